/* fs.c -- folders, atomic commits, output-folder locks and content digests (fs.h). */
#include "phaseflow/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

extern char **environ;

int pf_fs_mkdirs(const char *path, pf_err *err)
{
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) return pf_err_set(err, PF_ENOMEM, "mkdir %s: out of memory", path);
    memcpy(p, path, n + 1);
    /* make each prefix that ends at a '/', then the whole path */
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            int st = pf_err_set(err, PF_EIO, "cannot create folder %s: %s", p, strerror(e));
            free(p);
            return st;
        }
        p[i] = c;
    }
    struct stat sb;
    int ok = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    free(p);
    if (!ok) return pf_err_set(err, PF_EIO, "%s exists and is not a folder", path);
    return PF_OK;
}

/* fsync the folder holding `path`, so the rename itself survives a power cut */
static void sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int pf_fs_commit(const char *tmp, const char *path, pf_err *err)
{
    int fd = open(tmp, O_RDONLY);
    if (fd < 0) return pf_err_set(err, PF_EIO, "cannot open %s: %s", tmp, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return pf_err_set(err, PF_EIO, "cannot flush %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0)
        return pf_err_set(err, PF_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    sync_folder(path);
    return PF_OK;
}

int pf_fs_lock(const char *path, const char *holder, int *fd, char *held_by, size_t n, pf_err *err)
{
    *fd = -1;
    if (held_by && n) held_by[0] = '\0';
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0) return pf_err_set(err, PF_EIO, "cannot open lock %s: %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK && held_by && n) {
            ssize_t got = pread(f, held_by, n - 1, 0);
            held_by[got > 0 ? got : 0] = '\0';
            char *nl = strchr(held_by, '\n');
            if (nl) *nl = '\0';
        }
        close(f);
        if (e == EWOULDBLOCK) return pf_err_set(err, PF_ESTATE, "%s is held by %s", path,
                                                held_by && held_by[0] ? held_by : "another process");
        return pf_err_set(err, PF_EIO, "cannot lock %s: %s", path, strerror(e));
    }
    /* a dead holder's text is simply overwritten: the kernel released its lock */
    size_t len = strlen(holder);
    if (ftruncate(f, 0) != 0 || pwrite(f, holder, len, 0) != (ssize_t)len) {
        int e = errno;
        close(f);
        return pf_err_set(err, PF_EIO, "cannot write lock %s: %s", path, strerror(e));
    }
    *fd = f;
    return PF_OK;
}

void pf_fs_unlock(int fd)
{
    if (fd >= 0) close(fd); /* closing the descriptor releases the flock */
}

int pf_fs_digest(const char *path, uint64_t *digest, pf_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return pf_err_set(err, PF_EIO, "cannot read %s: %s", path, strerror(errno));
    XXH3_state_t *s = XXH3_createState();
    char *buf = malloc(1 << 20);
    if (!s || !buf) {
        fclose(f);
        free(buf);
        XXH3_freeState(s);
        return pf_err_set(err, PF_ENOMEM, "digest of %s: out of memory", path);
    }
    XXH3_64bits_reset(s);
    size_t got;
    while ((got = fread(buf, 1, 1 << 20, f)) > 0) XXH3_64bits_update(s, buf, got);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    *digest = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    if (bad) return pf_err_set(err, PF_EIO, "error reading %s", path);
    return PF_OK;
}

int pf_fs_run(char *const argv[], const char *cwd, const char *log, int *status, pf_err *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
    if (log) {
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) return pf_err_set(err, PF_ENOTFOUND, "cannot run %s: %s", argv[0], strerror(e));
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) return pf_err_set(err, PF_EIO, "waiting for %s: %s", argv[0], strerror(errno));
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    return PF_OK;
}
