"""The two bindings of the Rust core's C ABI, and what they share.

Nothing here is public API, and nothing above ``remotemedia.kernels``
imports it: ``remotemedia.runtime`` loads a binding by module name and the
"rust" kernel set (``kernels/rust/``) calls its functions.

=========================  ==================================================
module                     role
=========================  ==================================================
``abi``                    Python's one copy of the header's constants
``status``                 ABI status code -> Python exception (both bindings)
``cython_binding``         Cython extension (``cython_binding.pyx`` +
                           ``cython_abi.pxd`` + one ``cython_<kernel>.pxi``
                           per kernel); links the Rust staticlib
``ctypes_binding``         ctypes binding of the same header; loads the cdylib
                           installed in this folder (or REMOTEMEDIA_RUNTIME_LIB)
``ctypes_signatures``      ctypes restype/argtypes of every header function
=========================  ==================================================

Both bindings export the same names with the same signatures and raise the
same exceptions, so the native kernel bodies run on either.
"""
