/*
 * fuzz_csv.c -- libFuzzer target for the Gaia CSV/ECSV parser (src/core/gaia_text.c).
 *
 * Each input is parsed as an in-memory CSV/ECSV file with a few requested columns
 * (some optional, one int64, one derived) in small chunks, so chunk boundaries,
 * quoting, missing values, aliases and error paths are all exercised. A second check
 * parses the input as one number and compares it bit for bit with strtod.
 *
 * Built and run by `make fuzz` (FUZZERS=csv for this one alone; see docs/errors.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "phaseflow/gaia.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const cols[] = {"source_id", "parallax", "radial_velocity", "bp_rp",
                                       "ra"};
    static const unsigned char optional[] = {0, 0, 1, 1, 1};
    pf_gaia_opts o = {cols, 5, optional, 7};
    pf_gaia_chunk *c = pf_gaia_chunk_alloc(&o);
    if (!c)
        abort();
    pf_gaia_reader *r = NULL;
    pf_err err;
    if (pf_gaia_reader_open_mem(&r, (const char *)data, size, "fuzz", &o, &err) == PF_OK) {
        size_t rows = 0;
        while (pf_gaia_reader_next(r, c, &err) == PF_OK && c->n > 0) {
            rows += c->n;
            if (c->n > c->cap)
                abort();
            for (size_t j = 0; j < c->ncol; j++)
                for (size_t i = 0; i < c->n; i++)
                    if (c->miss[j][i] != (c->val[j][i] != c->val[j][i]) && j != 0)
                        abort(); /* mask and NaN disagree */
        }
        (void)rows;
        pf_gaia_reader_free(r);
    } else if (err.msg[0] == '\0') {
        abort(); /* every failure must say why */
    }
    pf_gaia_chunk_free(c);

    /* the number parser agrees with strtod whenever it accepts the text */
    if (size > 0 && size < 100) {
        char buf[128];
        memcpy(buf, data, size);
        buf[size] = '\0';
        if (strlen(buf) == size) {
            double v;
            if (pf_gaia_parse_double(buf, size, &v) == PF_OK) {
                char *end;
                double w = strtod(buf, &end);
                if (end != buf + size || memcmp(&v, &w, sizeof v) != 0)
                    abort();
            }
        }
    }
    return 0;
}
