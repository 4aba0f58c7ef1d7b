/* progress.c -- progress lines with rate and ETA, on a terminal or in a log. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "phaseflow/common.h"
#include "phaseflow/progress.h"

double pf_wtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pf_format_duration(double s, char *buf, size_t n)
{
    /* Long runs (cluster-scale projections) in days and years; never "?" for a finite
     * positive time. */
    if (!(s >= 0) || !isfinite(s)) {
        snprintf(buf, n, "?");
    } else if (s >= 2 * 365.25 * 86400) {
        snprintf(buf, n, "%.3g years", s / (365.25 * 86400));
    } else if (s >= 3 * 86400) {
        snprintf(buf, n, "%.1f days", s / 86400);
    } else if (s < 60) {
        snprintf(buf, n, "%.1fs", s);
    } else if (s < 3600) {
        int m = (int)(s / 60);
        snprintf(buf, n, "%dm%02ds", m, (int)(s - 60 * m));
    } else {
        int h = (int)(s / 3600);
        snprintf(buf, n, "%dh%02dm", h, (int)((s - 3600 * h) / 60));
    }
}

void pf_progress_init(pf_progress *p, const char *label, size_t total,
                      const volatile sig_atomic_t *cancel)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    p->start = p->last = pf_wtime();
    p->interval = 10.0;
    p->cancel = cancel;
    p->tty = isatty(STDERR_FILENO);
    const char *env = getenv("PHASEFLOW_PROGRESS");
    p->enabled = env ? atoi(env) != 0 : 1;
    if (p->tty)
        p->interval = 0.2;
}

/* One line: "label  [#####.....] 512/1000  51%  2.3k/s  ETA 3.1s  extra". */
static void print_line(pf_progress *p, const char *extra, int final)
{
    double now = pf_wtime(), el = now - p->start;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32] = "", dur[32], bar[24] = "";
    if (p->total && !final && rate > 0) {
        char t[24];
        pf_format_duration((double)(p->total - p->done) / rate, t, sizeof t);
        snprintf(eta, sizeof eta, "ETA %s", t);
    }
    pf_format_duration(el, dur, sizeof dur);
    if (p->tty && p->total) {
        int w = 20, fill = (int)(w * (double)p->done / (double)p->total);
        if (fill > w)
            fill = w;
        bar[0] = '[';
        for (int i = 0; i < w; i++)
            bar[1 + i] = i < fill ? '#' : '.';
        bar[w + 1] = ']';
        bar[w + 2] = '\0';
    }
    char count[64];
    if (p->total)
        snprintf(count, sizeof count, "%zu/%zu %3.0f%%", p->done, p->total,
                 100.0 * (double)p->done / (double)p->total);
    else
        snprintf(count, sizeof count, "%zu", p->done);
    fprintf(stderr, "%s%s %s %s  %.3g/s  %s %s%s%s", p->tty ? "\r\033[K" : "", p->label, bar,
            count, rate, final ? "in" : "elapsed", dur, eta[0] ? "  " : "", eta);
    if (extra && *extra)
        fprintf(stderr, "  %s", extra);
    if (!p->tty || final)
        fputc('\n', stderr);
    fflush(stderr);
}

int pf_progress_update(pf_progress *p, size_t done, const char *extra)
{
    p->done = done;
    if (p->cancel && *p->cancel)
        return PF_EINTR;
    if (!p->enabled)
        return PF_OK;
    double now = pf_wtime();
    if (now - p->last >= p->interval) {
        p->last = now;
        print_line(p, extra, 0);
    }
    return PF_OK;
}

void pf_progress_finish(pf_progress *p, const char *extra)
{
    if (p->finished)
        return;
    p->finished = 1;
    if (p->enabled)
        print_line(p, extra, 1);
}
