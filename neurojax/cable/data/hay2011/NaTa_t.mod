: Fast inactivating Na+ current, i = gbar m^3 h (v - ena), as used by Hay et al. (2011)
: PLoS Comput Biol 7:e1002107; kinetics of Colbert & Pan (2002) Nat Neurosci 5:533,
: rates at 21 degC scaled to 34 degC by Q10 = 2.3. Written for neurojax from the published
: equations (removable singularities through efun).
NEURON {
    SUFFIX NaTa_t
    USEION na READ ena WRITE ina
    RANGE gNaTa_tbar, gNaTa_t, ina
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gNaTa_tbar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED {
    v (mV) ena (mV) ina (mA/cm2) gNaTa_t (S/cm2)
    mInf mTau (ms) hInf hTau (ms)
}
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gNaTa_t = gNaTa_tbar*m*m*m*h
    ina = gNaTa_t*(v - ena)
}
DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
    h' = (hInf - h)/hTau
}
INITIAL { rates(v) m = mInf h = hInf }
PROCEDURE rates(u (mV)) {
    LOCAL qt, a, b
    UNITSOFF
    qt = 2.3^((34 - 21)/10)
    a = 0.182*6*efun(-(u + 38)/6)
    b = 0.124*6*efun((u + 38)/6)
    mInf = a/(a + b)
    mTau = 1/(a + b)/qt
    a = 0.015*6*efun((u + 66)/6)
    b = 0.015*6*efun(-(u + 66)/6)
    hInf = a/(a + b)
    hTau = 1/(a + b)/qt
    UNITSON
}
FUNCTION efun(z) {
    : z/(exp(z) - 1), finite at z = 0
    if (fabs(z) < 1e-6) {
        efun = 1 - z/2
    } else {
        efun = z/(exp(z) - 1)
    }
}
