// unwind_cxx.cc: allocations made by libstdc++ for the unwinder test
// (prog_unwind.c): a std::vector and a std::string that grow, each kept at
// exit (their last buffer is the block the test looks for).
#include <cstddef>
#include <string>
#include <vector>

// Each returns the size of the buffer it keeps.
extern "C" __attribute__((noinline)) std::size_t uwt_cxx_vector(std::size_t n)
{
    struct item {
        long a, b, c;
    };
    auto *v = new std::vector<item>();
    for (std::size_t i = 0; i < n; i++)
        v->push_back(item{(long)i, 0, 0});
    __asm__ volatile("" ::"r"(v) : "memory"); // kept: never deleted
    return v->capacity() * sizeof(item);
}

extern "C" __attribute__((noinline)) std::size_t uwt_cxx_string(std::size_t n)
{
    auto *s = new std::string();
    for (std::size_t i = 0; i < n; i++)
        s->push_back((char)('a' + i % 26));
    __asm__ volatile("" ::"r"(s) : "memory"); // kept: never deleted
    return s->capacity() + 1;
}
