// placeholder until written
#include "core/av.hpp"
