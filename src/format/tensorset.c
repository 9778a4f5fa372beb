#include "format/tensorset.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int tensorset_open_file(TensorSet *ts, const char *path) {
    memset(ts, 0, sizeof *ts);
    ts->where = xstrdup(path);
    ts->files = xcalloc(1, sizeof(SafeTensors));
    ts->n_files = 1;
    if (st_open(&ts->files[0], path)) {
        tensorset_close(ts);
        return -1;
    }
    return 0;
}

/* Every distinct shard file of the weight map, in order of first mention. */
static int shard_names(const cJSON *map, char ***names, const char *where) {
    int n = 0;
    *names = xcalloc((size_t)cJSON_GetArraySize(map) + 1, sizeof(char *));
    for (const cJSON *e = map->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !*e->valuestring || strchr(e->valuestring, '/'))
            return err_set("%s: weight_map entry \"%s\" is not a file name in the same folder",
                           where, e->string);
        int seen = 0;
        for (int i = 0; i < n && !seen; i++) seen = !strcmp((*names)[i], e->valuestring);
        if (!seen) (*names)[n++] = e->valuestring;
    }
    return n;
}

int tensorset_open_index(TensorSet *ts, const char *index_path) {
    memset(ts, 0, sizeof *ts);
    ts->where = xstrdup(index_path);
    size_t len;
    char *text = read_file(index_path, &len);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    char **names = NULL;
    int rc = -1;
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    if (!cJSON_IsObject(map)) {
        err_set("%s: not a safetensors index (no \"weight_map\" object)", index_path);
        goto done;
    }
    int n = shard_names(map, &names, index_path);
    if (n <= 0) {
        if (n == 0) err_set("%s: empty weight_map", index_path);
        goto done;
    }
    ts->files = xcalloc((size_t)n, sizeof(SafeTensors));
    const char *slash = strrchr(index_path, '/');
    int dir_len = slash ? (int)(slash - index_path) : 1;
    const char *dir = slash ? index_path : ".";
    for (int i = 0; i < n; i++, ts->n_files++) {
        char path[4096];
        snprintf(path, sizeof path, "%.*s/%s", dir_len, dir, names[i]);
        if (st_open(&ts->files[i], path)) goto done;
    }
    /* the index and the shards must agree, and no tensor may be in two */
    for (const cJSON *e = map->child; e; e = e->next) {
        int shard = 0;
        while (strcmp(names[shard], e->valuestring)) shard++;
        if (!st_find(&ts->files[shard], e->string)) {
            err_set("%s: tensor \"%s\" is not in %s as the index says", index_path, e->string,
                    e->valuestring);
            goto done;
        }
    }
    for (int i = 0; i < n; i++)
        for (int t = 0; t < ts->files[i].n; t++)
            for (int j = i + 1; j < n; j++)
                if (st_find(&ts->files[j], ts->files[i].t[t].name)) {
                    err_set("%s: tensor \"%s\" is in two shards (%s and %s)", index_path,
                            ts->files[i].t[t].name, names[i], names[j]);
                    goto done;
                }
    rc = 0;
done:
    free(names);
    cJSON_Delete(root);
    if (rc) tensorset_close(ts);
    return rc;
}

const Tensor *tensorset_find(const TensorSet *ts, const char *name) {
    for (int i = 0; i < ts->n_files; i++) {
        const Tensor *t = st_find(&ts->files[i], name);
        if (t) return t;
    }
    return NULL;
}

void tensorset_close(TensorSet *ts) {
    for (int i = 0; i < ts->n_files; i++) st_close(&ts->files[i]);
    free(ts->files);
    free(ts->where);
    memset(ts, 0, sizeof *ts);
}
