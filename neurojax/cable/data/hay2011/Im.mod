: Muscarinic K+ current (M current), i = gbar m (v - ek), as used by Hay et al. (2011)
: PLoS Comput Biol 7:e1002107; kinetics of Adams, Brown & Constanti (1982) J Physiol
: 330:537, Q10 = 2.3 from 21 to 34 degC. Written for neurojax from the published equations.
NEURON {
    SUFFIX Im
    USEION k READ ek WRITE ik
    RANGE gImbar, gIm, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gImbar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) gIm (S/cm2) mInf mTau (ms) }
STATE { m }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gIm = gImbar*m
    ik = gIm*(v - ek)
}
DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
}
INITIAL { rates(v) m = mInf }
PROCEDURE rates(u (mV)) {
    LOCAL qt, a, b
    UNITSOFF
    qt = 2.3^((34 - 21)/10)
    a = 3.3e-3*exp(2.5*0.04*(u + 35))
    b = 3.3e-3*exp(-2.5*0.04*(u + 35))
    mInf = a/(a + b)
    mTau = 1/(a + b)/qt
    UNITSON
}
