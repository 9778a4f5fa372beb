#define _DEFAULT_SOURCE /* madvise */
#include "base/mapfile.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

int mapfile_open(MapFile *f, const char *path) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_io("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return err_io("%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set("%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return err_set("%s: mmap failed: %s", path, strerror(errno));
        }
        f->data = p;
        f->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void mapfile_drop(const MapFile *f, const void *p, size_t n) {
    const unsigned char *a = p;
    if (!f->data || a < f->data || n > f->size || (size_t)(a - f->data) > f->size - n) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)a + page - 1) / page * page, hi = ((uintptr_t)a + n) / page * page;
    /* a read-only private file mapping: dropping its pages loses nothing */
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void mapfile_close(MapFile *f) {
    if (f->data) munmap((void *)f->data, f->size);
    memset(f, 0, sizeof *f);
}
