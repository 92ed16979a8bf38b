// placeholder until written
#include "studio/spec.hpp"
