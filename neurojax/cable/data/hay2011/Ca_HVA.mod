: High-voltage-activated Ca2+ current, i = gbar m^2 h (v - eca), as used by Hay et al.
: (2011) PLoS Comput Biol 7:e1002107; kinetics of Reuveni, Friedman, Amitai & Gutnick
: (1993) J Neurosci 13:4609. Written for neurojax from the published equations.
NEURON {
    SUFFIX Ca_HVA
    USEION ca READ eca WRITE ica
    RANGE gCa_HVAbar, gCa_HVA, ica
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gCa_HVAbar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED {
    v (mV) eca (mV) ica (mA/cm2) gCa_HVA (S/cm2)
    mInf mTau (ms) hInf hTau (ms)
}
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gCa_HVA = gCa_HVAbar*m*m*h
    ica = gCa_HVA*(v - eca)
}
DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
    h' = (hInf - h)/hTau
}
INITIAL { rates(v) m = mInf h = hInf }
PROCEDURE rates(u (mV)) {
    LOCAL ma, mb, ha, hb
    UNITSOFF
    : ma has a removable singularity at u = -27 mV
    ma = 0.055*(-27 - u)/(exp((-27 - u)/3.8) - 1)
    mb = 0.94*exp((-75 - u)/17)
    mInf = ma/(ma + mb)
    mTau = 1/(ma + mb)
    ha = 0.000457*exp((-13 - u)/50)
    hb = 0.0065/(exp((-u - 15)/28) + 1)
    hInf = ha/(ha + hb)
    hTau = 1/(ha + hb)
    UNITSON
}
