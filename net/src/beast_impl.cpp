// beast_impl.cpp — the one translation unit that compiles Beast's implementation.
#include <boost/beast/src.hpp>
