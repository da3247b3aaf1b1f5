: Kv3.1 (fast non-inactivating) K+ current, i = gbar m (v - ek), as used by Hay et al.
: (2011) PLoS Comput Biol 7:e1002107; kinetics of Rettig et al. (1992) EMBO J 11:2473.
: Written for neurojax from the published equations.
NEURON {
    SUFFIX SKv3_1
    USEION k READ ek WRITE ik
    RANGE gSKv3_1bar, gSKv3_1, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gSKv3_1bar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) gSKv3_1 (S/cm2) mInf mTau (ms) }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gSKv3_1 = gSKv3_1bar*m
    ik = gSKv3_1*(v - ek)
}
DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
}
INITIAL { rates(v) m = mInf }
PROCEDURE rates(u (mV)) {
    UNITSOFF
    mInf = 1/(1 + exp(-(u - 18.7)/9.7))
    mTau = 0.2*20/(1 + exp(-(u + 46.56)/44.14))
    UNITSON
}
