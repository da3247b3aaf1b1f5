: Persistent Na+ current, i = gbar m^3 h (v - ena), as used by Hay et al. (2011) PLoS
: Comput Biol 7:e1002107; steady states of Magistretti & Alonso (1999) J Gen Physiol
: 114:491, activation time constant 6x the transient channel's, Q10 = 2.3 from 21 to
: 34 degC. Written for neurojax from the published equations.
NEURON {
    SUFFIX Nap_Et2
    USEION na READ ena WRITE ina
    RANGE gNap_Et2bar, gNap_Et2, ina
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gNap_Et2bar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED {
    v (mV) ena (mV) ina (mA/cm2) gNap_Et2 (S/cm2)
    mInf mTau (ms) hInf hTau (ms)
}
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gNap_Et2 = gNap_Et2bar*m*m*m*h
    ina = gNap_Et2*(v - ena)
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
    mInf = 1/(1 + exp(-(u + 52.6)/4.6))
    a = 0.182*6*efun(-(u + 38)/6)
    b = 0.124*6*efun((u + 38)/6)
    mTau = 6/(a + b)/qt
    hInf = 1/(1 + exp((u + 48.8)/10))
    a = 2.88e-6*4.63*efun((u + 17)/4.63)
    b = 6.94e-6*2.63*efun(-(u + 64.4)/2.63)
    hTau = 1/(a + b)/qt
    UNITSON
}
FUNCTION efun(z) {
    if (fabs(z) < 1e-6) {
        efun = 1 - z/2
    } else {
        efun = z/(exp(z) - 1)
    }
}
