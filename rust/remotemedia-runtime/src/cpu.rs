//! Run-time detection of the CPU features the kernels dispatch on.

/// True when the AVX2 and FMA code paths may run on this CPU.
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Comma-separated names of the instruction sets the kernels use here.
pub fn features() -> &'static std::ffi::CStr {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            c"sse2,avx2,fma"
        } else {
            c"sse2"
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        c"neon"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        c"scalar"
    }
}
