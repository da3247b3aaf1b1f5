: Fast inactivating (transient) K+ current, i = gbar m^4 h (v - ek), as used by Hay et
: al. (2011) PLoS Comput Biol 7:e1002107; kinetics of Korngreen & Sakmann (2000) J Physiol
: 525:621 shifted by -10 mV, Q10 = 2.3 from 21 to 34 degC. Written for neurojax from the
: published equations.
NEURON {
    SUFFIX K_Tst
    USEION k READ ek WRITE ik
    RANGE gK_Tstbar, gK_Tst, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gK_Tstbar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED {
    v (mV) ek (mV) ik (mA/cm2) gK_Tst (S/cm2)
    mInf mTau (ms) hInf hTau (ms)
}
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gK_Tst = gK_Tstbar*m*m*m*m*h
    ik = gK_Tst*(v - ek)
}
DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
    h' = (hInf - h)/hTau
}
INITIAL { rates(v) m = mInf h = hInf }
PROCEDURE rates(u (mV)) {
    LOCAL qt, w
    UNITSOFF
    qt = 2.3^((34 - 21)/10)
    w = u + 10
    mInf = 1/(1 + exp(-w/19))
    mTau = (0.34 + 0.92*exp(-((w + 71)/59)^2))/qt
    hInf = 1/(1 + exp((w + 66)/10))
    hTau = (8 + 49*exp(-((w + 73)/23)^2))/qt
    UNITSON
}
