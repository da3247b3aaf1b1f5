: Small-conductance Ca2+-activated K+ current, i = gbar z (v - ek), as used by Hay et al.
: (2011) PLoS Comput Biol 7:e1002107; steady state of Koehler et al. (1996) Science
: 273:1709 (Hill coefficient 4.8, half activation 0.43 uM), time constant 1 ms.
: Written for neurojax from the published equations.
NEURON {
    SUFFIX SK_E2
    USEION k READ ek WRITE ik
    USEION ca READ cai
    RANGE gSK_E2bar, gSK_E2, ik
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) (mM) = (milli/liter) }
PARAMETER {
    gSK_E2bar = 0.000001 (S/cm2) <0,1e9>
    zTau = 1 (ms)
}
ASSIGNED { v (mV) ek (mV) cai (mM) ik (mA/cm2) gSK_E2 (S/cm2) zInf }
STATE { z }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gSK_E2 = gSK_E2bar*z
    ik = gSK_E2*(v - ek)
}
DERIVATIVE states {
    rates(cai)
    z' = (zInf - z)/zTau
}
INITIAL { rates(cai) z = zInf }
PROCEDURE rates(ca (mM)) {
    LOCAL c
    c = ca
    if (c < 1e-7) { c = c + 1e-7 }
    zInf = 1/(1 + (0.00043/c)^4.8)
}
