/* stepcost — fitted step times and the prompt budget (see stepcost.h). */
#include "gen/stepcost.h"

#include <string.h>

/* A regressor whose (weighted) variance is below this many squared rows
 * or tokens is taken as constant: its coefficient cannot be told from a. */
#define STEPCOST_MIN_VAR 0.25

void stepcost_init(StepCost *c) { memset(c, 0, sizeof *c); }

void stepcost_observe(StepCost *c, int D, int P, double seconds) {
    if (D < 0 || P < 0 || D + P == 0 || !(seconds >= 0)) return;
    double k = STEPCOST_DECAY, d = D, p = P;
    c->w = k * c->w + 1;
    c->sd = k * c->sd + d, c->sp = k * c->sp + p, c->st = k * c->st + seconds;
    c->sdd = k * c->sdd + d * d, c->sdp = k * c->sdp + d * p, c->spp = k * c->spp + p * p;
    c->sdt = k * c->sdt + d * seconds, c->spt = k * c->spt + p * seconds;
    c->steps++;
}

StepFit stepcost_fit(const StepCost *c) {
    StepFit f = {0};
    if (c->steps < 3 || c->w <= 0) return f;
    double mD = c->sd / c->w, mP = c->sp / c->w, mt = c->st / c->w;
    double vDD = c->sdd / c->w - mD * mD, vPP = c->spp / c->w - mP * mP, cDP = c->sdp / c->w - mD * mP;
    double cDt = c->sdt / c->w - mD * mt, cPt = c->spt / c->w - mP * mt;
    if (vPP < STEPCOST_MIN_VAR) return f; /* one prompt size seen: p unknown */
    double det = vDD * vPP - cDP * cDP;
    if (vDD >= STEPCOST_MIN_VAR && det > 1e-6 * vDD * vPP) { /* both regressors */
        f.d = (cDt * vPP - cPt * cDP) / det;
        f.p = (cPt * vDD - cDt * cDP) / det;
    }
    if (f.d <= 0 || f.p <= 0) { /* one of them (or neither) is told apart: P's alone */
        f.d = 0;
        f.p = cPt / vPP;
    }
    f.a = mt - f.d * mD - f.p * mP;
    if (f.a < 0) f.a = 0;
    f.known = f.p > 0;
    if (!f.known) f.a = f.d = f.p = 0;
    return f;
}

int stepcost_budget(const StepCost *c, int D, double target, int lo, int hi, int fallback) {
    if (lo < 1) lo = 1;
    if (hi < lo) hi = lo;
    StepFit f = stepcost_fit(c);
    double room = fallback;
    if (f.known) room = (target - f.a - f.d * (D > 0 ? D : 0)) / f.p;
    if (!(room >= lo)) return lo; /* NaN too */
    if (room >= hi) return hi;
    return (int)room;
}
