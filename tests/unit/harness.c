#include "harness.h"

#ifndef TEST_NO_JSON /* tests/platform/neon.sh: the kernels alone, for a CPU without the target's cJSON */
#include <cjson/cJSON.h>
#endif

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "tok/tokfile.h"

int test_failures;
int test_printed;

int test_done(const char *name) {
    if (test_failures) fprintf(stderr, "%s: %d check(s) FAILED\n", name, test_failures);
    else fprintf(stderr, "%s: ok\n", name);
    return test_failures ? 1 : 0;
}

const char *test_tmpdir(void) {
    static char path[256];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/mistral-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(1);
    }
    return path;
}

void test_rm_rf(const char *path) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

int test_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

int test_copy_file(const char *src, const char *dst) {
    size_t len;
    char *buf = read_file(src, &len);
    if (!buf) return -1;
    int rc = test_write_file(dst, buf, len);
    free(buf);
    return rc;
}

int test_run(const char *cmd, char **out, char **err) {
    char ofile[] = "/tmp/mistral-test-out-XXXXXX", efile[] = "/tmp/mistral-test-err-XXXXXX";
    int fo = mkstemp(ofile), fe = mkstemp(efile);
    if (fo < 0 || fe < 0) {
        perror("mkstemp");
        exit(1);
    }
    close(fo), close(fe);
    size_t n = strlen(cmd) + 128;
    char *full = xmalloc(n);
    snprintf(full, n, "%s >%s 2>%s", cmd, ofile, efile);
    int st = system(full);
    free(full);
    if (out) *out = read_file(ofile, NULL);
    if (err) *err = read_file(efile, NULL);
    unlink(ofile), unlink(efile);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

const char *test_shared_dir(void) {
    const char *env = getenv("MISTRAL_SHARED");
    const char *dir = env && *env ? env : "../shared";
    struct stat st;
    char probe[512];
    snprintf(probe, sizeof probe, "%s/models/stories260K/params.json", dir);
    if (stat(probe, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (set MISTRAL_SHARED to the shared folder)\n", probe);
        return NULL;
    }
    return dir;
}

void test_cli_path(char *out, size_t cap, const char *argv0) {
    snprintf(out, cap, "%s", argv0);
    for (int up = 0; up < 3; up++) { /* BUILD/tests/unit/x -> BUILD */
        char *slash = strrchr(out, '/');
        if (!slash) {
            snprintf(out, cap, "build/mistral");
            return;
        }
        *slash = 0;
    }
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "/mistral");
}

#ifndef TEST_NO_JSON
int test_load_tokenizer(Tokenizer *t, const char *shared, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizers/mistral/%s", shared, name);
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found\n", path);
        return 0;
    }
    int ok = tokenizer_load(t, path) == 0;
    EXPECT(ok, "%s: %s", path, err_msg());
    return ok;
}
#endif

#ifndef TEST_NO_JSON
char *test_json_text(const cJSON *s, size_t *len) {
    const char *v = cJSON_GetStringValue(s);
    if (!v) v = "";
    char *t = xstrdup(v);
    size_t n = 0;
    for (size_t i = 0; v[i]; i++) {
        if (!strncmp(v + i, "\xef\xbf\xbf", 3)) t[n++] = 0, i += 2;
        else t[n++] = v[i];
    }
    t[n] = 0;
    *len = n;
    return t;
}
#endif
