: Intracellular Ca2+ in a shell under the membrane, as in Hay et al. (2011) PLoS Comput
: Biol 7:e1002107: a fraction gamma of the Ca2+ current enters a shell of depth `depth`,
: and the excess decays to minCai with time constant `decay`:
:     cai' = -10000 ica gamma/(2 F depth) - (cai - minCai)/decay
: Written for neurojax from the published equation.
NEURON {
    SUFFIX CaDynamics_E2
    USEION ca READ ica WRITE cai
    RANGE decay, gamma, minCai, depth
}
UNITS {
    (mV) = (millivolt) (mA) = (milliamp) (molar) = (1/liter) (mM) = (millimolar)
    (um) = (micron) FARADAY = (faraday) (coulomb)
}
PARAMETER {
    gamma = 0.05 : fraction of the current not buffered
    decay = 80 (ms) <1e-9,1e9>
    depth = 0.1 (um) <1e-9,1e9>
    minCai = 1e-4 (mM)
}
ASSIGNED { ica (mA/cm2) }
STATE { cai (mM) }
BREAKPOINT { SOLVE states METHOD cnexp }
DERIVATIVE states {
    cai' = -(10000)*(ica*gamma/(2*FARADAY*depth)) - (cai - minCai)/decay
}
