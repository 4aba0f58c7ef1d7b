/*
 * phaseflow/fs.h -- the file-system chores that keep a run's files whole: folders made
 * without a shell, files committed by rename, a lock on an output folder, and a digest
 * of a file's content.
 *
 * A file is never written in place: the writer fills NAME.part in the same folder and
 * pf_fs_commit() makes it NAME, so a reader (or a resume after SIGKILL) sees either the
 * old file or the new one, never half of one.
 */
#ifndef PHASEFLOW_FS_H
#define PHASEFLOW_FS_H

#include <stdint.h>
#include "phaseflow/common.h"

/* mkdir -p: every missing folder of `path` (mode 0777 before the umask). */
int pf_fs_mkdirs(const char *path, pf_err *err);

/* Make `tmp` the file `path`: fsync tmp, rename it over path, fsync the folder. Both must
 * be in the same folder (rename is atomic only within one file system). */
int pf_fs_commit(const char *tmp, const char *path, pf_err *err);

/* An exclusive lock on `path` (created if absent), held until pf_fs_unlock or the
 * process's death (flock: a dead holder never leaves a stale lock). `holder` is written
 * into the file for the next one to read. If another process holds it: PF_ESTATE, and
 * its holder text in `held_by` (n bytes). Returns the lock's descriptor in *fd. */
int pf_fs_lock(const char *path, const char *holder, int *fd, char *held_by, size_t n, pf_err *err);
void pf_fs_unlock(int fd);

/* Run argv[0] (searched in PATH) with arguments argv (NULL-terminated), no shell, in
 * folder `cwd` (NULL: this one), its stdout and stderr to file `log` (NULL: inherited).
 * *status is its exit status (128 + signal if killed); PF_ENOTFOUND if it cannot start. */
int pf_fs_run(char *const argv[], const char *cwd, const char *log, int *status, pf_err *err);

/* 64-bit XXH3 digest of a file's bytes (content only: not its name, size or time). */
int pf_fs_digest(const char *path, uint64_t *digest, pf_err *err);

#endif
