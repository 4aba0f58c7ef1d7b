/*
 * phaseflow/progress.h -- progress reports for long loops (training epochs, solver
 * points), usable from C loops and from Lua.
 *
 * On a terminal: one updating line with a bar, count, rate and ETA. Otherwise (CI
 * logs, files): a plain line at most every `interval` seconds (default 10) and at
 * the end. PHASEFLOW_PROGRESS=0 silences it, =1 forces it on. Output goes to stderr.
 * The struct lives with the caller (no allocation, no global state).
 */
#ifndef PHASEFLOW_PROGRESS_H
#define PHASEFLOW_PROGRESS_H

#include <signal.h>
#include <stddef.h>

typedef struct pf_progress {
    char label[64];
    size_t total;          /* 0 when unknown: no ETA */
    size_t done;
    double start, last;    /* monotonic seconds */
    double interval;       /* seconds between plain lines */
    int tty, enabled, finished;
    const volatile sig_atomic_t *cancel; /* polled by pf_progress_update; may be NULL */
} pf_progress;

/* Start a report. `cancel` may be NULL. */
void pf_progress_init(pf_progress *p, const char *label, size_t total,
                      const volatile sig_atomic_t *cancel);

/* Record that `done` units are finished; prints if due. `extra` (may be NULL) is a
 * short text such as "loss 2.385". Returns PF_EINTR when the cancel flag is set (the
 * caller stops and cleans up), else PF_OK. */
int pf_progress_update(pf_progress *p, size_t done, const char *extra);

/* Print the final line (count, elapsed time, rate). */
void pf_progress_finish(pf_progress *p, const char *extra);

/* Monotonic wall-clock seconds. */
double pf_wtime(void);

/* Format an ETA or duration in seconds as "1h02m", "3m05s", "12.3s". */
void pf_format_duration(double seconds, char *buf, size_t n);

#endif
