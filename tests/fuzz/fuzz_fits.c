/*
 * fuzz_fits.c -- libFuzzer target for FITS tables read by the Gaia reader
 * (src/core/gaia_fits.c, through CFITSIO): header parsing, the search for a table HDU,
 * column lookup, TUNITn units and TNULLn nulls, and the column reads in chunks.
 *
 * Each input is written to a file (in /dev/shm when there is one; an input that does not
 * start with "SIMPLE  =" gets it prepended) and read through the public reader,
 * pf_gaia_reader_open, as pf.gaia.read does, with a few requested columns (some
 * optional, one int64, one derived) in chunks of 7 rows. A failure must say why; a
 * successful read must deliver the rows the header announces, with the missing mask and
 * NaN in agreement. Seeds: tests/fuzz/corpus_fits (tests/fuzz/make_fits_seeds.lua).
 * Built and run by `make fuzz` (see docs/errors.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "phaseflow/gaia.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* CFITSIO sizes some buffers from header values (a garbled TFIELDS asks for petabytes)
 * and handles a failed allocation as an error: let ASan's allocator fail as malloc does
 * instead of reporting the request. */
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static char path[4096];

/* Where the inputs are written: $PF_FUZZ_DIR, /dev/shm (memory), $TMPDIR or P_tmpdir. */
static void set_path(void)
{
    const char *dir = getenv("PF_FUZZ_DIR");
    if (!dir)
        dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/pf-fuzz-fits-%ld.fits", dir ? dir : P_tmpdir, (long)getpid());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char magic[] = "SIMPLE  =";
    static const char *const cols[] = {"source_id", "parallax", "radial_velocity", "bp_rp",
                                       "ra"};
    static const unsigned char optional[] = {0, 0, 1, 1, 1};
    if (!path[0])
        set_path();
    /* the reader takes a file for FITS if it starts so: make every input one */
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size < 9 || memcmp(data, magic, 9) != 0)
        fwrite(magic, 1, 9, f);
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);

    pf_gaia_opts o = {cols, 5, optional, 7};
    pf_gaia_chunk *c = pf_gaia_chunk_alloc(&o);
    if (!c)
        abort();
    pf_gaia_reader *r = NULL;
    pf_err err;
    pf_err_clear(&err);
    if (pf_gaia_reader_open(&r, path, &o, &err) == PF_OK) {
        long long want = pf_gaia_reader_nrows(r);
        size_t rows = 0;
        int st;
        while ((st = pf_gaia_reader_next(r, c, &err)) == PF_OK && c->n > 0) {
            rows += c->n;
            if (c->n > c->cap)
                abort();
            for (size_t j = 1; j < c->ncol; j++)
                for (size_t i = 0; i < c->n; i++)
                    if (c->miss[j][i] != (c->val[j][i] != c->val[j][i]))
                        abort(); /* mask and NaN disagree */
        }
        if (st == PF_OK && want >= 0 && (long long)rows != want)
            abort(); /* rows lost or invented */
        if (st != PF_OK && err.msg[0] == '\0')
            abort();
        pf_gaia_reader_free(r);
    } else if (err.msg[0] == '\0') {
        abort(); /* every failure must say why */
    }
    pf_gaia_chunk_free(c);
    return 0;
}
