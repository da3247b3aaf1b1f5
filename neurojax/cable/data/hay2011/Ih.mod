: Hyperpolarisation-activated cation current (HCN), i = gbar m (v - ehcn), as used by Hay
: et al. (2011) PLoS Comput Biol 7:e1002107; kinetics of Kole, Hallermann & Stuart (2006)
: J Neurosci 26:1677. Written for neurojax from the published equations.
NEURON {
    SUFFIX Ih
    NONSPECIFIC_CURRENT ihcn
    RANGE gIhbar, gIh, ihcn, ehcn
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER {
    gIhbar = 0.00001 (S/cm2) <0,1e9>
    ehcn = -45.0 (mV)
}
ASSIGNED { v (mV) ihcn (mA/cm2) gIh (S/cm2) mInf mTau (ms) }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gIh = gIhbar*m
    ihcn = gIh*(v - ehcn)
}
DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
}
INITIAL { rates(v) m = mInf }
PROCEDURE rates(u (mV)) {
    LOCAL a, b
    UNITSOFF
    a = 0.001*6.43*11.9*efun((u + 154.9)/11.9)
    b = 0.001*193*exp(u/33.1)
    mInf = a/(a + b)
    mTau = 1/(a + b)
    UNITSON
}
FUNCTION efun(z) {
    if (fabs(z) < 1e-6) {
        efun = 1 - z/2
    } else {
        efun = z/(exp(z) - 1)
    }
}
