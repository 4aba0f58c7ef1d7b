/*
 * mpi.c -- the MPI runtime (see phaseflow/mpi.h): initialisation only under a
 * launcher, a few collectives, and the dynamic job distribution.
 *
 * Without PF_HAVE_MPI every function is the one-rank version and no MPI header or
 * symbol is used, so `make MPI=0` needs no MPI installed.
 *
 * MPI errors: MPI_COMM_WORLD keeps MPI's default handler (MPI_ERRORS_ARE_FATAL), so a
 * failing MPI call ends every rank inside MPI; the return codes are still checked so
 * that a library set up otherwise reports them as a status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "phaseflow/mpi.h"

#ifdef PF_HAVE_MPI
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <mpi.h>
#endif

/* Our process state, the only one (MPI's own is process-global by nature): written
 * once by pf_mpi_init_if_launched, cleared by pf_mpi_finalize. Not active: one rank. */
static struct {
    int active;
    int rank;
    int size;
} world = {0, 0, 1};

#ifdef PF_HAVE_MPI

/* Tags of the job protocol (MPI_COMM_WORLD; the collectives do not use tags). */
enum { TAG_JOB_REQUEST = 0x5046, TAG_JOB_INDEX = 0x5047 };

/* The dispatcher's sleep between two polls starts at POLL_MIN_NS after each request
 * it answers and grows by half after each empty poll, up to POLL_MAX_NS. Requests
 * come about one job apart (a worker asks as it starts a job), so the sleep tracks
 * the job time: short jobs are answered within a fraction of their length, and long
 * ones wake the thread a few hundred times a second at most. A fixed 200 us period
 * (5,000 wake-ups a second) slowed rank 0's own jobs by ~20% on a 2-core VM. */
#define POLL_MIN_NS 200000L
#define POLL_MAX_NS 5000000L

/* Messages are sent in pieces of at most this many bytes (MPI counts are ints). */
#define PIECE ((size_t)1 << 30)

static int mpi_fail(pf_err *err, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", rc);
    return pf_err_set(err, PF_EIO, "%s failed: %s", what, msg);
}

int pf_mpi_built(void) { return 1; }

void pf_mpi_library(char *buf, size_t len)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    if (len == 0)
        return;
    if (MPI_Get_library_version(v, &n) != MPI_SUCCESS) {
        snprintf(buf, len, "MPI (unknown library)");
        return;
    }
    /* "Open MPI v4.1.4, package: ..." -> "Open MPI 4.1.4"; the first line of others */
    v[strcspn(v, ",\n")] = '\0';
    char *ver = strstr(v, " v");
    if (ver && ver[2] >= '0' && ver[2] <= '9')
        memmove(ver + 1, ver + 2, strlen(ver + 2) + 1);
    snprintf(buf, len, "%s", v);
}

static int launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int pf_mpi_init_if_launched(pf_err *err)
{
    if (world.active || !launched())
        return PF_OK;
    int initialised = 0, finalized = 0, provided = MPI_THREAD_SINGLE, rc;
    MPI_Finalized(&finalized);
    if (finalized)
        return pf_err_set(err, PF_ESTATE, "MPI was already finalized in this process");
    MPI_Initialized(&initialised);
    if (initialised)
        rc = MPI_Query_thread(&provided);
    else
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, rc, "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED) {
        if (!initialised)
            MPI_Finalize();
        return pf_err_set(err, PF_ESTATE,
                          "the MPI library provides thread level %d, below MPI_THREAD_SERIALIZED "
                          "(the job dispatcher of rank 0 runs in a thread of its own)",
                          provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    world.active = 1;
    return PF_OK;
}

void pf_mpi_finalize(void)
{
    if (!world.active)
        return;
    MPI_Finalize();
    world.active = 0;
    world.rank = 0;
    world.size = 1;
}

void pf_mpi_abort(int code)
{
    if (world.active && world.size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
}

int pf_mpi_barrier(pf_err *err)
{
    if (!world.active)
        return PF_OK;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? PF_OK : mpi_fail(err, rc, "MPI_Barrier");
}

int pf_mpi_bcast(void *buf, size_t nbytes, int root, pf_err *err)
{
    if (!world.active)
        return PF_OK;
    for (size_t off = 0; off < nbytes; off += PIECE) {
        size_t n = nbytes - off < PIECE ? nbytes - off : PIECE;
        int rc = MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, rc, "MPI_Bcast");
    }
    return PF_OK;
}

int pf_mpi_gather_counts(size_t count, size_t *counts, int root, pf_err *err)
{
    (void)root; /* every rank learns every count: see pf_mpi_gather */
    if (!world.active) {
        counts[0] = count;
        return PF_OK;
    }
    unsigned long long mine = count;
    unsigned long long *all = malloc((size_t)world.size * sizeof *all);
    if (!all)
        return pf_err_set(err, PF_ENOMEM, "out of memory");
    int rc = MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG,
                           MPI_COMM_WORLD);
    for (int r = 0; r < world.size; r++)
        counts[r] = (size_t)all[r];
    free(all);
    return rc == MPI_SUCCESS ? PF_OK : mpi_fail(err, rc, "MPI_Allgather");
}

/* Every rank knows every count (gather_counts is an all-gather), so every rank takes
 * the same decision on a total too large for MPI_Gatherv's int displacements and no
 * rank is left waiting in the collective. */
int pf_mpi_gather(const void *send, size_t count, void *recv, const size_t *counts,
                  int root, pf_err *err)
{
    if (!world.active) {
        if (count)
            memcpy(recv, send, count);
        return PF_OK;
    }
    size_t total = 0;
    for (int r = 0; r < world.size; r++)
        total += counts[r];
    if (total > (size_t)INT_MAX)
        return pf_err_set(err, PF_EINVAL, "%zu bytes in all: a gather holds at most %d",
                          total, INT_MAX);
    int *cnt = NULL, *disp = NULL;
    if (world.rank == root) {
        cnt = malloc((size_t)world.size * sizeof *cnt);
        disp = malloc((size_t)world.size * sizeof *disp);
        if (!cnt || !disp) {
            /* the others are already on their way into MPI_Gatherv: end them too */
            free(cnt);
            free(disp);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        int off = 0;
        for (int r = 0; r < world.size; r++) {
            cnt[r] = (int)counts[r];
            disp[r] = off;
            off += cnt[r];
        }
    }
    int rc = MPI_Gatherv(send, (int)count, MPI_BYTE, recv, cnt, disp, MPI_BYTE, root,
                         MPI_COMM_WORLD);
    free(cnt);
    free(disp);
    return rc == MPI_SUCCESS ? PF_OK : mpi_fail(err, rc, "MPI_Gatherv");
}

int pf_mpi_allreduce_sum(double x, double *out, pf_err *err)
{
    if (!world.active) {
        *out = x;
        return PF_OK;
    }
    int rc = MPI_Allreduce(&x, out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? PF_OK : mpi_fail(err, rc, "MPI_Allreduce");
}

/* ---- the job distribution -------------------------------------------------------- */

/*
 * Rank 0: the calling thread takes indices from `next` with atomic_fetch_add; the
 * dispatcher thread answers the other ranks with indices from the same counter. A
 * worker sends a request (TAG_JOB_REQUEST) and gets one index (TAG_JOB_INDEX) for it;
 * 0 means the jobs are over, and that worker sends nothing more in this distribution.
 * A worker given index i asks for its next one at once, before running job i, so the
 * round trip (up to a poll period) overlaps the job instead of idling the worker.
 *
 * The dispatcher keeps one receive posted per worker, not one from MPI_ANY_SOURCE: a
 * worker told 0 may already be in the next distribution and send its first request
 * while this dispatcher still waits for slower workers; with no receive posted for
 * that worker, the request stays queued for the next dispatcher.
 *
 * It polls (MPI_Testany, then a sleep of 0.2 to 5 ms) rather than block: a blocking receive
 * busy-waits in Open MPI and would take the core that rank 0's own jobs run on. With
 * MPI_THREAD_SERIALIZED it may call MPI only because the calling thread makes no MPI
 * call until it has joined the dispatcher.
 */
struct pf_mpi_jobs {
    long n;
    atomic_long next;  /* the next index to hand out (may run past n) */
    int mode;          /* LOCAL, ROOT (with a dispatcher) or WORKER */
    int done;          /* a worker was told 0 */
    int asked;         /* a worker's request for its next index is on its way */
    pthread_t thread;
    int thread_running;
    atomic_int stop;   /* pf_mpi_jobs_free: leave the loop now */
    int status;        /* the dispatcher's */
    pf_err err;
};

enum { LOCAL, ROOT, WORKER };

static void *dispatch(void *arg)
{
    pf_mpi_jobs *j = arg;
    int nw = world.size - 1, left = nw, rc = MPI_SUCCESS;
    long poll_ns = POLL_MIN_NS;
    const char *what = "MPI_Irecv";
    MPI_Request *req = malloc((size_t)nw * sizeof *req);
    int *dummy = malloc((size_t)nw * sizeof *dummy);
    if (!req || !dummy) {
        free(req);
        free(dummy);
        j->status = pf_err_set(&j->err, PF_ENOMEM, "out of memory");
        return NULL;
    }
    for (int w = 0; w < nw; w++)
        req[w] = MPI_REQUEST_NULL;
    for (int w = 0; w < nw && rc == MPI_SUCCESS; w++)
        rc = MPI_Irecv(&dummy[w], 1, MPI_INT, w + 1, TAG_JOB_REQUEST, MPI_COMM_WORLD, &req[w]);
    while (left > 0 && rc == MPI_SUCCESS && !atomic_load(&j->stop)) {
        int w = MPI_UNDEFINED, flag = 0;
        what = "MPI_Testany";
        rc = MPI_Testany(nw, req, &w, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            break;
        if (!flag || w == MPI_UNDEFINED) {
            struct timespec ts = {0, poll_ns};
            nanosleep(&ts, NULL);
            poll_ns = poll_ns + poll_ns / 2 < POLL_MAX_NS ? poll_ns + poll_ns / 2 : POLL_MAX_NS;
            continue;
        }
        poll_ns = POLL_MIN_NS;
        long i = atomic_fetch_add(&j->next, 1);
        if (i > j->n)
            i = 0;
        what = "MPI_Send";
        rc = MPI_Send(&i, 1, MPI_LONG, w + 1, TAG_JOB_INDEX, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            break;
        if (i == 0) {
            left--; /* req[w] is MPI_REQUEST_NULL now */
        } else {
            what = "MPI_Irecv";
            rc = MPI_Irecv(&dummy[w], 1, MPI_INT, w + 1, TAG_JOB_REQUEST, MPI_COMM_WORLD,
                           &req[w]);
        }
    }
    /* stopped early: withdraw the receives still posted */
    for (int w = 0; w < nw; w++) {
        if (req[w] != MPI_REQUEST_NULL) {
            MPI_Cancel(&req[w]);
            MPI_Wait(&req[w], MPI_STATUS_IGNORE);
        }
    }
    if (rc != MPI_SUCCESS)
        j->status = mpi_fail(&j->err, rc, what);
    free(req);
    free(dummy);
    return NULL;
}

int pf_mpi_jobs_start(pf_mpi_jobs **out, long n, pf_err *err)
{
    *out = NULL;
    if (n < 0)
        return pf_err_set(err, PF_EINVAL, "number of jobs %ld < 0", n);
    pf_mpi_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return pf_err_set(err, PF_ENOMEM, "out of memory");
    j->n = n;
    atomic_init(&j->next, 1);
    atomic_init(&j->stop, 0);
    j->status = PF_OK;
    if (!world.active || world.size == 1)
        j->mode = LOCAL;
    else
        j->mode = world.rank == 0 ? ROOT : WORKER;
    if (j->mode == ROOT) {
        int e = pthread_create(&j->thread, NULL, dispatch, j);
        if (e != 0) {
            free(j);
            return pf_err_set(err, PF_ESTATE, "cannot start the job dispatcher: %s",
                              strerror(e));
        }
        j->thread_running = 1;
    }
    *out = j;
    return PF_OK;
}

long pf_mpi_jobs_next(pf_mpi_jobs *j)
{
    if (j->mode != WORKER) {
        long i = atomic_fetch_add(&j->next, 1);
        return i <= j->n ? i : 0;
    }
    if (j->done)
        return 0;
    int request = 0;
    long i = 0;
    /* errors are fatal in MPI (see the top of the file); a failed call ends the jobs */
    if (!j->asked && MPI_Send(&request, 1, MPI_INT, 0, TAG_JOB_REQUEST, MPI_COMM_WORLD) !=
                         MPI_SUCCESS)
        return j->done = 1, 0;
    j->asked = 0;
    if (MPI_Recv(&i, 1, MPI_LONG, 0, TAG_JOB_INDEX, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS || i == 0)
        return j->done = 1, 0;
    /* ask for the next index now: the answer travels while job i runs */
    if (MPI_Send(&request, 1, MPI_INT, 0, TAG_JOB_REQUEST, MPI_COMM_WORLD) == MPI_SUCCESS)
        j->asked = 1;
    return i;
}

int pf_mpi_jobs_finish(pf_mpi_jobs *j, pf_err *err)
{
    if (!j->thread_running)
        return PF_OK;
    pthread_join(j->thread, NULL);
    j->thread_running = 0;
    if (j->status != PF_OK && err)
        *err = j->err;
    return j->status;
}

void pf_mpi_jobs_free(pf_mpi_jobs *j)
{
    if (!j)
        return;
    if (j->thread_running) {
        atomic_store(&j->stop, 1);
        pthread_join(j->thread, NULL);
    }
    free(j);
}

#else /* serial build: a world of one rank */

int pf_mpi_built(void) { return 0; }

void pf_mpi_library(char *buf, size_t len)
{
    if (len)
        snprintf(buf, len, "none (serial build)");
}

int pf_mpi_init_if_launched(pf_err *err)
{
    (void)err;
    return PF_OK;
}

void pf_mpi_finalize(void) {}
void pf_mpi_abort(int code) { (void)code; }

int pf_mpi_barrier(pf_err *err)
{
    (void)err;
    return PF_OK;
}

int pf_mpi_bcast(void *buf, size_t nbytes, int root, pf_err *err)
{
    (void)buf, (void)nbytes, (void)root, (void)err;
    return PF_OK;
}

int pf_mpi_gather_counts(size_t count, size_t *counts, int root, pf_err *err)
{
    (void)root, (void)err;
    counts[0] = count;
    return PF_OK;
}

int pf_mpi_gather(const void *send, size_t count, void *recv, const size_t *counts,
                  int root, pf_err *err)
{
    (void)counts, (void)root, (void)err;
    if (count)
        memcpy(recv, send, count);
    return PF_OK;
}

int pf_mpi_allreduce_sum(double x, double *out, pf_err *err)
{
    (void)err;
    *out = x;
    return PF_OK;
}

struct pf_mpi_jobs {
    long n;
    long next;
};

int pf_mpi_jobs_start(pf_mpi_jobs **out, long n, pf_err *err)
{
    *out = NULL;
    if (n < 0)
        return pf_err_set(err, PF_EINVAL, "number of jobs %ld < 0", n);
    pf_mpi_jobs *j = malloc(sizeof *j);
    if (!j)
        return pf_err_set(err, PF_ENOMEM, "out of memory");
    j->n = n;
    j->next = 1;
    *out = j;
    return PF_OK;
}

long pf_mpi_jobs_next(pf_mpi_jobs *j)
{
    return j->next <= j->n ? j->next++ : 0;
}

int pf_mpi_jobs_finish(pf_mpi_jobs *j, pf_err *err)
{
    (void)j, (void)err;
    return PF_OK;
}

void pf_mpi_jobs_free(pf_mpi_jobs *j) { free(j); }

#endif /* PF_HAVE_MPI */

int pf_mpi_active(void) { return world.active; }
int pf_mpi_rank(void) { return world.rank; }
int pf_mpi_size(void) { return world.size; }
