# Sourced by scripts/parity.sh, scripts/notebooks.sh and tools/reference/run.sh: which golden sets (tests/golden/<oneMKL
# path>/<kernel family>/) this CPU's numbers belong to.
#
# The kernel family: oneMKL and ATen pick their kernels by the CPU's instruction sets, and the
# AVX-512 and AVX2 kernels round differently. Same rule as initlab::base::parity::mkl::kernel_family
# (Rust): avx512f -> avx512, else avx2 -> avx2, else other.
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    family=avx512
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    family=avx2
else
    family=other
fi
intel=no
if grep -qm1 'vendor_id.*GenuineIntel' /proc/cpuinfo 2>/dev/null; then intel=yes; fi

# The set of a process in which oneMKL keeps its own vendor check (INITLAB_MKL_DISPATCH=stock, or a
# program that does not export initlab's override, such as an evcxr notebook kernel): the Intel
# path on an Intel CPU, the non-Intel ("stock") path elsewhere.
if [ "$intel" = yes ]; then
    stock_set="intel-path/$family"
else
    stock_set="stock/$family"
fi
