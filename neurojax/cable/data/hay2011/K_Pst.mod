: Slow inactivating (persistent) K+ current, i = gbar m^2 h (v - ek), as used by Hay et
: al. (2011) PLoS Comput Biol 7:e1002107; kinetics of Korngreen & Sakmann (2000) J Physiol
: 525:621 shifted by -10 mV, Q10 = 2.3 from 21 to 34 degC. Written for neurojax from the
: published equations.
NEURON {
    SUFFIX K_Pst
    USEION k READ ek WRITE ik
    RANGE gK_Pstbar, gK_Pst, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gK_Pstbar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED {
    v (mV) ek (mV) ik (mA/cm2) gK_Pst (S/cm2)
    mInf mTau (ms) hInf hTau (ms)
}
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gK_Pst = gK_Pstbar*m*m*h
    ik = gK_Pst*(v - ek)
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
    mInf = 1/(1 + exp(-(w + 1)/12))
    if (w < -50) {
        mTau = (1.25 + 175.03*exp(0.026*w))/qt
    } else {
        mTau = (1.25 + 13*exp(-0.026*w))/qt
    }
    hInf = 1/(1 + exp((w + 54)/11))
    hTau = (360 + (1010 + 24*(w + 55))*exp(-((w + 75)/48)^2))/qt
    UNITSON
}
