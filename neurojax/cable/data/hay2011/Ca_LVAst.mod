: Low-voltage-activated Ca2+ current, i = gbar m^2 h (v - eca), as used by Hay et al.
: (2011) PLoS Comput Biol 7:e1002107; kinetics of Avery & Johnston (1996) J Neurosci
: 16:5567 and Randall & Tsien (1997) Neuropharmacology 36:879, shifted by -10 mV, Q10 =
: 2.3 from 21 to 34 degC. Written for neurojax from the published equations.
NEURON {
    SUFFIX Ca_LVAst
    USEION ca READ eca WRITE ica
    RANGE gCa_LVAstbar, gCa_LVAst, ica
}
UNITS { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gCa_LVAstbar = 0.00001 (S/cm2) <0,1e9> }
ASSIGNED {
    v (mV) eca (mV) ica (mA/cm2) gCa_LVAst (S/cm2)
    mInf mTau (ms) hInf hTau (ms)
}
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    gCa_LVAst = gCa_LVAstbar*m*m*h
    ica = gCa_LVAst*(v - eca)
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
    mInf = 1/(1 + exp(-(w + 30)/6))
    mTau = (5 + 20/(1 + exp((w + 25)/5)))/qt
    hInf = 1/(1 + exp((w + 80)/6.4))
    hTau = (20 + 50/(1 + exp((w + 40)/7)))/qt
    UNITSON
}
