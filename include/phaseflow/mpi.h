/*
 * phaseflow/mpi.h -- the MPI runtime: one world of ranks, a few collectives, and a
 * dynamic distribution of numbered jobs over every rank.
 *
 * Built with PF_HAVE_MPI (make MPI=auto finds mpicc) the functions use MPI; built
 * without it (make MPI=0) every function works as a world of one rank (rank 0, size
 * 1) and no MPI symbol is referenced. Even in an MPI build, MPI is only initialised
 * when a launcher started the process (pf_mpi_init_if_launched): a plain run is a
 * world of one rank too.
 *
 * Process state: MPI's own state is process-global by nature. Ours is a single
 * record (active, rank, size) written once by pf_mpi_init_if_launched and cleared by
 * pf_mpi_finalize; nothing else is global.
 *
 * Threads: MPI is initialised with MPI_THREAD_SERIALIZED. The only second thread is
 * the job dispatcher of pf_mpi_jobs on rank 0, which makes every MPI call of that
 * rank while it runs; callers must make no MPI call (no pf_mpi_* function other than
 * pf_mpi_jobs_next) between pf_mpi_jobs_start and pf_mpi_jobs_finish.
 *
 * Errors: functions return PF_OK or a status and fill `err` (may be NULL). Buffers
 * are bytes, counts are in bytes unless named otherwise.
 */
#ifndef PHASEFLOW_MPI_H
#define PHASEFLOW_MPI_H

#include <stddef.h>
#include "phaseflow/common.h"

/* 1 if this build has MPI (compiled with PF_HAVE_MPI), else 0. */
int pf_mpi_built(void);

/* Write the MPI library's name and version ("Open MPI 4.1.4") or "none (serial
 * build)" into buf (always NUL-terminated when len > 0). Needs no initialisation. */
void pf_mpi_library(char *buf, size_t len);

/* Initialise MPI (MPI_Init_thread, asking MPI_THREAD_SERIALIZED) if and only if a
 * launcher started this process: one of the environment variables
 * OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE is set. Otherwise, or in a serial build,
 * do nothing and return PF_OK. Idempotent. Fails (PF_ESTATE) if the library provides
 * less than MPI_THREAD_SERIALIZED. */
int pf_mpi_init_if_launched(pf_err *err);

/* 1 once MPI is initialised by pf_mpi_init_if_launched (and not finalized), else 0. */
int pf_mpi_active(void);
/* This process's rank in MPI_COMM_WORLD, 0 when not active. */
int pf_mpi_rank(void);
/* The number of ranks, 1 when not active. */
int pf_mpi_size(void);

/* Finalize MPI if active (then pf_mpi_active() is 0). Safe to call more than once. */
void pf_mpi_finalize(void);

/* Abort every rank with exit code `code` (MPI_Abort) when active with size > 1; else
 * do nothing and return (the caller exits as usual). */
void pf_mpi_abort(int code);

/* Wait for every rank. */
int pf_mpi_barrier(pf_err *err);

/* Broadcast `nbytes` bytes at `buf` from rank `root` to every rank (each rank passes
 * a buffer of the same size; the root's content lands in the others'). Sizes above
 * 2^31 are sent in pieces. Not active: nothing to do. */
int pf_mpi_bcast(void *buf, size_t nbytes, int root, pf_err *err);

/* Gather the send counts (bytes) of every rank on `root`: counts[r] for r in
 * 0..size-1 (counts is read only on the root, size entries). */
int pf_mpi_gather_counts(size_t count, size_t *counts, int root, pf_err *err);

/* Gather `count` bytes of `send` from every rank into `recv` on `root`, rank after
 * rank (counts as returned by pf_mpi_gather_counts; their sum must stay below 2^31:
 * PF_EINVAL otherwise). recv and counts are read only on the root. */
int pf_mpi_gather(const void *send, size_t count, void *recv, const size_t *counts,
                  int root, pf_err *err);

/* *out = the sum of `x` over every rank, on every rank. */
int pf_mpi_allreduce_sum(double x, double *out, pf_err *err);

/*
 * Dynamic distribution of the job indices 1..n over every rank (rank 0 included).
 *
 *   pf_mpi_jobs *j;
 *   pf_mpi_jobs_start(&j, n, &err);          every rank, together
 *   for (long i; (i = pf_mpi_jobs_next(j)) != 0;) do_job(i);
 *   pf_mpi_jobs_finish(j, &err);             every rank; then pf_mpi_jobs_free(j)
 *
 * Every index is handed to exactly one rank, in increasing order of hand-out. On rank
 * 0 a dispatcher thread answers the other ranks' requests while the calling thread
 * takes indices from the same atomic counter. Not active (or size 1): indices 1..n in
 * order in this process. To give up on rank 0 (before aborting), pf_mpi_jobs_free
 * stops and joins the dispatcher; the other ranks are left waiting (abort them).
 */
typedef struct pf_mpi_jobs pf_mpi_jobs;

/* Start a distribution of n >= 0 jobs; *out receives the object (NULL on failure). */
int pf_mpi_jobs_start(pf_mpi_jobs **out, long n, pf_err *err);
/* The next index for this rank (1..n), or 0 when there are no more. */
long pf_mpi_jobs_next(pf_mpi_jobs *j);
/* After pf_mpi_jobs_next returned 0: on rank 0, wait for the dispatcher to have told
 * every other rank that the jobs are done. */
int pf_mpi_jobs_finish(pf_mpi_jobs *j, pf_err *err);
/* Free (accepts NULL). A dispatcher still running is stopped and joined first. */
void pf_mpi_jobs_free(pf_mpi_jobs *j);

#endif
