/*
 * phaseflow/common.h -- status codes and the error record shared by the C core.
 *
 * Contract: core functions never abort or exit on bad input. They return an int
 * status (PF_OK on success). Functions whose failures need a detailed reason (file
 * names, line numbers, dataset paths) also take a `pf_err *` that they fill in; it may
 * be NULL when the caller only wants the code. A pf_err lives on the caller's stack:
 * there is no global error state, so two threads or two flows never share one.
 */
#ifndef PHASEFLOW_COMMON_H
#define PHASEFLOW_COMMON_H

#include <stddef.h>

#define PF_VERSION_MAJOR 0
#define PF_VERSION_MINOR 1
#define PF_VERSION_PATCH 0
#define PF_VERSION "0.1.0"

enum pf_status {
    PF_OK = 0,
    PF_EINVAL,    /* an argument is out of its domain (bad size, NaN where not allowed) */
    PF_ESHAPE,    /* array shapes do not match what the function needs */
    PF_ENOMEM,    /* allocation failed */
    PF_EIO,       /* reading or writing a file failed */
    PF_ENOTFOUND, /* a file, group, dataset or column does not exist */
    PF_EFORMAT,   /* a file exists but its content is not what was expected */
    PF_ENUM,      /* a numerical method failed (singular matrix, no convergence) */
    PF_EINTR,     /* interrupted by the user (Ctrl-C) */
    PF_ESTATE     /* an object is used in the wrong state (freed, not initialised) */
};

/* A short English name of a status code ("invalid argument", ...). Never NULL. */
const char *pf_strerror(int status);

/* Detailed error record: the status and a human-readable message. */
typedef struct pf_err {
    int code;
    char msg[512];
} pf_err;

/* Fill `err` (if not NULL) with `code` and a printf-style message; returns `code` so a
 * failing function can end with `return pf_err_set(err, PF_EIO, "...", ...)`. */
int pf_err_set(pf_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Reset an error record to PF_OK with an empty message. */
void pf_err_clear(pf_err *err);

#endif
