/*
 * gaia_inflate.c -- the inflating thread: gzread in a thread of its own, into a ring.
 *
 * Inflating costs about as much as parsing, so it runs beside the parser (one thread
 * per reader) and fills a small ring of buffers: on two cores a single file is read
 * at the speed of the slower of the two. Plain files pass through gzread unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gaia_internal.h"

/* The inflating thread's ring: `count` filled blocks start at `head`; the producer
 * writes at (head + count) % RING_N. A block of length 0 marks the end; `zerr`
 * records a zlib error (with its message) seen by the producer. */
struct pf_gaia_ring {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gzFile gz;
    char *data[RING_N];
    size_t len[RING_N];
    size_t head, count, used; /* used: bytes of block `head` already taken */
    int done, stop, zerr, started;
    char zmsg[160];
};

static void *ring_main(void *arg)
{
    pf_gaia_ring *g = arg;
    size_t slot = 0;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        while (g->count == RING_N && !g->stop)
            pthread_cond_wait(&g->cv, &g->mu);
        int stop = g->stop;
        slot = (g->head + g->count) % RING_N;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
        /* the block at `slot` is free: the consumer only touches filled blocks */
        int n = gzread(g->gz, g->data[slot], RING_BYTES);
        int zerr = 0;
        const char *zmsg = gzerror(g->gz, &zerr);
        int bad = n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END);
        pthread_mutex_lock(&g->mu);
        if (bad) {
            g->zerr = zerr ? zerr : Z_DATA_ERROR;
            snprintf(g->zmsg, sizeof g->zmsg, "%s", zmsg && *zmsg ? zmsg : "error");
            g->done = 1;
        } else {
            g->len[slot] = (size_t)n;
            g->count++;
            if (n == 0)
                g->done = 1;
        }
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        if (g->done)
            break;
    }
    return NULL;
}

void pf_gaia_ring_free(pf_gaia_ring *g)
{
    if (!g)
        return;
    if (g->started) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->th, NULL);
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
    }
    for (int k = 0; k < RING_N; k++)
        free(g->data[k]);
    free(g);
}

/* Start inflating `gz` (owned by the caller, closed after pf_gaia_ring_free) in a thread.
 * NULL if memory or the thread cannot be had. */
pf_gaia_ring *pf_gaia_ring_start(gzFile gz)
{
    pf_gaia_ring *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->gz = gz;
    for (int k = 0; k < RING_N; k++)
        if (!(g->data[k] = malloc(RING_BYTES))) {
            pf_gaia_ring_free(g);
            return NULL;
        }
    if (pthread_mutex_init(&g->mu, NULL)) {
        pf_gaia_ring_free(g);
        return NULL;
    }
    if (pthread_cond_init(&g->cv, NULL)) {
        pthread_mutex_destroy(&g->mu);
        pf_gaia_ring_free(g);
        return NULL;
    }
    if (pthread_create(&g->th, NULL, ring_main, g)) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        pf_gaia_ring_free(g);
        return NULL;
    }
    g->started = 1;
    return g;
}

/* Copy up to `room` inflated bytes into `dst`: the count (0 at the end), or -1 with
 * the zlib message in `msg` when the stream is corrupt or truncated. */
long pf_gaia_ring_take(pf_gaia_ring *g, char *dst, size_t room, char *msg, size_t msglen)
{
    size_t got = 0;
    pthread_mutex_lock(&g->mu);
    while (got < room) {
        while (g->count == 0 && !g->done)
            pthread_cond_wait(&g->cv, &g->mu);
        if (g->count == 0) {
            if (g->zerr && got == 0) {
                snprintf(msg, msglen, "%s", g->zmsg);
                pthread_mutex_unlock(&g->mu);
                return -1;
            }
            break;
        }
        size_t h = g->head, left = g->len[h] - g->used;
        if (g->len[h] == 0) /* the end marker stays in place */
            break;
        size_t n = left < room - got ? left : room - got;
        pthread_mutex_unlock(&g->mu); /* block h is ours to read while filled */
        memcpy(dst + got, g->data[h] + g->used, n);
        pthread_mutex_lock(&g->mu);
        got += n;
        g->used += n;
        if (g->used == g->len[h]) {
            g->head = (h + 1) % RING_N;
            g->count--;
            g->used = 0;
            pthread_cond_broadcast(&g->cv);
        }
        if (got > 0)
            break; /* hand over what we have; the parser asks again when it needs more */
    }
    pthread_mutex_unlock(&g->mu);
    return (long)got;
}

/* The floor under the cost of reading a text file: inflate it and count newlines. */
int pf_gaia_scan(const char *path, size_t *bytes, size_t *lines, pf_err *err)
{
    *bytes = *lines = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return pf_err_set(err, PF_EIO, "%s: cannot open", path);
    gzbuffer(gz, 1u << 18);
    pf_gaia_ring *g = pf_gaia_ring_start(gz);
    char *buf = malloc(RING_BYTES);
    if (!g || !buf) {
        pf_gaia_ring_free(g);
        free(buf);
        gzclose(gz);
        return pf_err_set(err, PF_ENOMEM, "%s: out of memory", path);
    }
    int st = PF_OK;
    char msg[160];
    for (;;) {
        long n = pf_gaia_ring_take(g, buf, RING_BYTES, msg, sizeof msg);
        if (n < 0) {
            size_t k = strlen(path); /* zlib's message starts with the path */
            const char *m = msg;
            if (strncmp(msg, path, k) == 0 && msg[k] == ':' && msg[k + 1] == ' ')
                m += k + 2;
            st = pf_err_set(err, PF_EIO, "%s: truncated or corrupt compressed data (zlib: %s)",
                            path, m);
            break;
        }
        if (n == 0)
            break;
        *bytes += (size_t)n;
        for (const char *p = buf, *e = buf + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
            ++*lines;
    }
    pf_gaia_ring_free(g);
    free(buf);
    gzclose(gz);
    return st;
}
