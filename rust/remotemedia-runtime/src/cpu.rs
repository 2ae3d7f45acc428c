//! Run-time detection of the CPU features the kernels dispatch on.
//!
//! The only SIMD paths are x86-64 AVX2+FMA ones. Their safety argument is
//! a value, not a flag: an [`Avx2Fma`] token can only be made by
//! [`Avx2Fma::detect`] on a CPU that has both features, so a kernel that
//! is handed one may call its `#[target_feature(enable = "avx2,fma")]`
//! code. Kernels take a [`Simd`] (`Some(token)` or `None` for the portable
//! loops, which compute the same results).

/// Proof that this CPU runs AVX2 and FMA instructions.
///
/// The private field keeps every other module from making one: the only
/// constructor is [`Avx2Fma::detect`].
#[derive(Clone, Copy, Debug)]
pub struct Avx2Fma(());

impl Avx2Fma {
    /// A token when the CPU supports AVX2 and FMA, else `None`.
    #[inline]
    pub fn detect() -> Option<Avx2Fma> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Some(Avx2Fma(()));
            }
        }
        None
    }
}

/// Proof that this CPU runs BMI2 and LZCNT instructions (the FLAC
/// decoder's Rice loop: shifts by a register and leading-zero counts
/// without the baseline's extra moves and zero test).
#[derive(Clone, Copy, Debug)]
pub struct Bmi2Lzcnt(());

impl Bmi2Lzcnt {
    /// A token when the CPU supports BMI2 and LZCNT, else `None`.
    #[inline]
    pub fn detect() -> Option<Bmi2Lzcnt> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("bmi2") && std::arch::is_x86_feature_detected!("lzcnt") {
                return Some(Bmi2Lzcnt(()));
            }
        }
        None
    }
}

/// True when the AVX2 and FMA code paths may run on this CPU (kernels
/// that dispatch should hold an [`Avx2Fma`] instead of this flag).
#[inline]
pub fn has_avx2_fma() -> bool {
    Avx2Fma::detect().is_some()
}

/// The path a kernel takes: the AVX2+FMA code with its proof, or the
/// portable loops (`None`).
pub type Simd = Option<Avx2Fma>;

/// Comma-separated names of the instruction sets the kernels use here:
/// `sse2,avx2,fma` or `sse2` on x86-64; `scalar` elsewhere (the portable
/// loops, whatever the compiler makes of them: there is no hand-written
/// path for other architectures, NEON included).
pub fn features() -> &'static std::ffi::CStr {
    #[cfg(target_arch = "x86_64")]
    {
        if Avx2Fma::detect().is_some() {
            c"sse2,avx2,fma"
        } else {
            c"sse2"
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        c"scalar"
    }
}
