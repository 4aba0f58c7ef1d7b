/*
 * mock_internal.h -- what the parts of the mock module share (src/core/mock*.c only; the
 * contract with the rest of the workbench is phaseflow/mock.h).
 */
#ifndef PF_MOCK_INTERNAL_H
#define PF_MOCK_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <gsl/gsl_integration.h>
#include "phaseflow/mock.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define QLIMIT 400

/* The L-dependent parts of population p: ln A, Eref, s and their L derivatives. */
typedef struct lpart {
    double lnA, dlnA, eref, deref, s, dlns;
} lpart;

static inline double log_sigmoid(double t)
{
    return t > 0 ? -log1p(exp(-t)) : t - log1p(exp(t));
}

/* Internal to the module (hidden: not exported from the library). */
#pragma GCC visibility push(hidden)

/* mock.c: the guiding radius Rg(|L|) (and dRg/d|L| when dr is not NULL) and the
 * L-dependent parts of population p (their L derivatives too when deriv). */
double mock_guiding_radius(const pf_mock *m, double aL, double *dr);
void mock_pop_lpart(const pf_mock *m, const pf_population *p, double L, lpart *o, int deriv);

/* mock_moments.c: ln g_p(u), the velocity marginal at (R, phi); its u-moment by
 * quadrature; the azimuthal extent of the circle (R, z) inside the sphere. */
double mock_pop_lng(const pf_mock *m, const pf_population *p, double R, double phi, double u,
                    lpart *o);
double mock_u_quad(const pf_mock *m, const pf_population *p, double R, double phi, int moment,
                   double epsrel, gsl_integration_workspace *ws);
double mock_arc_inside(double R, double X0, double rho2);

#pragma GCC visibility pop

#endif
