/* error.c -- status names and the caller-owned error record. */
#include <stdarg.h>
#include <stdio.h>
#include "phaseflow/common.h"

const char *pf_strerror(int status)
{
    switch (status) {
    case PF_OK: return "success";
    case PF_EINVAL: return "invalid argument";
    case PF_ESHAPE: return "shape mismatch";
    case PF_ENOMEM: return "out of memory";
    case PF_EIO: return "input/output error";
    case PF_ENOTFOUND: return "not found";
    case PF_EFORMAT: return "bad file format";
    case PF_ENUM: return "numerical failure";
    case PF_EINTR: return "interrupted";
    case PF_ESTATE: return "object in wrong state";
    default: return "unknown error";
    }
}

int pf_err_set(pf_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void pf_err_clear(pf_err *err)
{
    if (err) {
        err->code = PF_OK;
        err->msg[0] = '\0';
    }
}
