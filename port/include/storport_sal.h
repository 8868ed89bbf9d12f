/* SPDX-License-Identifier: MIT */
/*
 * Source annotations and calling conventions of the Windows driver kit,
 * reduced to nothing.
 *
 * Miniport sources written for the WDK are full of SAL 2 annotations
 * (_In_, _Out_writes_bytes_(n), _IRQL_requires_max_(DISPATCH_LEVEL), ...),
 * the older "__in"/"__drv_*" spellings and calling-convention keywords
 * (NTAPI, __stdcall).  None of them changes the generated code on x86_64,
 * so every one of them expands to nothing here.  Function-like ones are
 * variadic so that any argument list (including nested commas) is
 * accepted.  The calling-convention macros are guarded, so a build that
 * brings its own definition keeps it; the annotation macros are not,
 * because a different definition of those would be a real conflict that
 * the compiler should report.
 */
#ifndef STOREMU_STORPORT_SAL_H
#define STOREMU_STORPORT_SAL_H

/* --- Calling conventions and storage-class decorations -------------------- */

#ifndef NTAPI
#define NTAPI
#endif
#ifndef NTAPI_INLINE
#define NTAPI_INLINE
#endif
#ifndef WINAPI
#define WINAPI
#endif
#ifndef APIENTRY
#define APIENTRY
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef STDCALL
#define STDCALL
#endif
#ifndef FASTCALL
#define FASTCALL
#endif
#ifndef __stdcall
#define __stdcall
#endif
#ifndef __cdecl
#define __cdecl
#endif
#ifndef __fastcall
#define __fastcall
#endif
#ifndef NTSYSAPI
#define NTSYSAPI
#endif
#ifndef NTSYSCALLAPI
#define NTSYSCALLAPI
#endif
#ifndef NTKERNELAPI
#define NTKERNELAPI
#endif
#ifndef NTHALAPI
#define NTHALAPI
#endif
#ifndef DECLSPEC_IMPORT
#define DECLSPEC_IMPORT
#endif
#ifndef DECLSPEC_EXPORT
#define DECLSPEC_EXPORT
#endif
#ifndef DECLSPEC_NOTHROW
#define DECLSPEC_NOTHROW
#endif
#ifndef DECLSPEC_SELECTANY
#define DECLSPEC_SELECTANY
#endif
#ifndef DECLSPEC_DEPRECATED
#define DECLSPEC_DEPRECATED
#endif
#ifndef DECLSPEC_DEPRECATED_DDK
#define DECLSPEC_DEPRECATED_DDK
#endif
#ifndef DECLSPEC_GUARDNOCF
#define DECLSPEC_GUARDNOCF
#endif
#ifndef DECLSPEC_SAFEBUFFERS
#define DECLSPEC_SAFEBUFFERS
#endif
#ifndef DECLSPEC_NOVTABLE
#define DECLSPEC_NOVTABLE
#endif
#ifndef DECLSPEC_UUID
#define DECLSPEC_UUID(x)
#endif
#ifndef DECLSPEC_ADDRSAFE
#define DECLSPEC_ADDRSAFE
#endif
#ifndef IN
#define IN
#endif
#ifndef OUT
#define OUT
#endif
#ifndef OPTIONAL
#define OPTIONAL
#endif
#ifndef CRITICAL
#define CRITICAL
#endif
#ifndef NOTHING
#define NOTHING
#endif
#ifndef UNALIGNED
#define UNALIGNED
#endif
#ifndef UNALIGNED64
#define UNALIGNED64
#endif
#ifndef POINTER_64
#define POINTER_64
#endif
#ifndef POINTER_32
#define POINTER_32
#endif
#ifndef RESTRICTED_POINTER
#define RESTRICTED_POINTER
#endif
#ifndef EXTERN_C
#define EXTERN_C extern
#endif

/*
 * These do carry meaning, and GCC/Clang can express it.  DECLSPEC_ALIGN is
 * load-bearing: the extended-SRB structures are defined with it.
 */
#ifndef DECLSPEC_ALIGN
#define DECLSPEC_ALIGN(x) __attribute__((aligned(x)))
#endif
#ifndef DECLSPEC_NOINLINE
#define DECLSPEC_NOINLINE __attribute__((noinline))
#endif
#ifndef DECLSPEC_NORETURN
#define DECLSPEC_NORETURN __attribute__((noreturn))
#endif
#ifndef DECLSPEC_CACHEALIGN
#define DECLSPEC_CACHEALIGN __attribute__((aligned(64)))
#endif

/*
 * MSVC gives header-defined __forceinline functions "one definition per
 * image" semantics; the closest GNU C equivalent that links in every
 * translation unit is a static inline function.
 */
#ifndef FORCEINLINE
#define FORCEINLINE static inline __attribute__((always_inline))
#endif
#ifndef __forceinline
#define __forceinline static inline __attribute__((always_inline))
#endif
#ifndef CFORCEINLINE
#define CFORCEINLINE FORCEINLINE
#endif
#ifndef STKFORCEINLINE
#define STKFORCEINLINE FORCEINLINE
#endif

/* --- SAL 2 ---------------------------------------------------------------- */

#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _Inout_opt_z_
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_opt_result_maybenull_
#define _Outptr_result_nullonfailure_
#define _Outptr_opt_result_nullonfailure_
#define _Outptr_result_z_
#define _COM_Outptr_
#define _Outref_
#define _Deref_out_
#define _Deref_out_opt_
#define _Deref_in_
#define _Deref_inout_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_null_
#define _Ret_z_
#define _Ret_
#define _Check_return_
#define _Must_inspect_result_
#define _Use_decl_annotations_
#define _Null_terminated_
#define _NullNull_terminated_
#define _Printf_format_string_
#define _Reserved_
#define _Notnull_
#define _Maybenull_
#define _Null_
#define _Const_
#define _Literal_
#define _Strict_type_match_
#define _Points_to_data_
#define _Pre_
#define _Post_
#define _Pre_notnull_
#define _Pre_maybenull_
#define _Pre_null_
#define _Pre_valid_
#define _Pre_invalid_
#define _Pre_z_
#define _Pre_defensive_
#define _Post_notnull_
#define _Post_maybenull_
#define _Post_null_
#define _Post_valid_
#define _Post_invalid_
#define _Post_ptr_invalid_
#define _Post_z_
#define _Post_maybez_
#define _Post_defensive_
#define _Field_z_
#define _Interlocked_operand_
#define _Kernel_float_saved_
#define _Kernel_float_restored_
#define _Kernel_float_used_
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_requires_same_
#define _IRQL_is_cancel_
#define _IRQL_uses_cancel_
#define _Enum_is_bitflag_
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Flt_CompletionContext_Outptr_
#define _Analysis_noreturn_
#define _Function_ignore_lock_checking_(...)
#define _No_competing_thread_

#define _In_reads_(...)
#define _In_reads_opt_(...)
#define _In_reads_bytes_(...)
#define _In_reads_bytes_opt_(...)
#define _In_reads_z_(...)
#define _In_reads_opt_z_(...)
#define _In_reads_or_z_(...)
#define _In_reads_or_z_opt_(...)
#define _In_reads_to_ptr_(...)
#define _In_reads_to_ptr_opt_(...)
#define _In_range_(...)
#define _Out_range_(...)
#define _Ret_range_(...)
#define _Deref_in_range_(...)
#define _Deref_out_range_(...)
#define _Out_writes_(...)
#define _Out_writes_opt_(...)
#define _Out_writes_bytes_(...)
#define _Out_writes_bytes_opt_(...)
#define _Out_writes_z_(...)
#define _Out_writes_opt_z_(...)
#define _Out_writes_to_(...)
#define _Out_writes_to_opt_(...)
#define _Out_writes_bytes_to_(...)
#define _Out_writes_bytes_to_opt_(...)
#define _Out_writes_all_(...)
#define _Out_writes_all_opt_(...)
#define _Out_writes_bytes_all_(...)
#define _Out_writes_bytes_all_opt_(...)
#define _Out_writes_to_ptr_(...)
#define _Out_writes_to_ptr_opt_(...)
#define _Inout_updates_(...)
#define _Inout_updates_opt_(...)
#define _Inout_updates_bytes_(...)
#define _Inout_updates_bytes_opt_(...)
#define _Inout_updates_z_(...)
#define _Inout_updates_to_(...)
#define _Inout_updates_bytes_to_(...)
#define _Inout_updates_all_(...)
#define _Inout_updates_bytes_all_(...)
#define _Outptr_result_buffer_(...)
#define _Outptr_result_buffer_maybenull_(...)
#define _Outptr_result_bytebuffer_(...)
#define _Outptr_result_bytebuffer_maybenull_(...)
#define _Outptr_opt_result_buffer_(...)
#define _Outptr_opt_result_bytebuffer_(...)
#define _Ret_writes_(...)
#define _Ret_writes_bytes_(...)
#define _Ret_writes_maybenull_(...)
#define _Ret_writes_bytes_maybenull_(...)
#define _Ret_writes_to_(...)
#define _Ret_writes_bytes_to_(...)
#define _Post_writable_byte_size_(...)
#define _Post_writable_size_(...)
#define _Post_readable_byte_size_(...)
#define _Post_readable_size_(...)
#define _Post_equal_to_(...)
#define _Post_satisfies_(...)
#define _Pre_satisfies_(...)
#define _Pre_writable_size_(...)
#define _Pre_writable_byte_size_(...)
#define _Pre_readable_size_(...)
#define _Pre_readable_byte_size_(...)
#define _Writable_elements_(...)
#define _Writable_bytes_(...)
#define _Readable_elements_(...)
#define _Readable_bytes_(...)
#define _Field_size_(...)
#define _Field_size_opt_(...)
#define _Field_size_bytes_(...)
#define _Field_size_bytes_opt_(...)
#define _Field_size_part_(...)
#define _Field_size_part_opt_(...)
#define _Field_size_bytes_part_(...)
#define _Field_size_bytes_part_opt_(...)
#define _Field_size_full_(...)
#define _Field_size_full_opt_(...)
#define _Field_size_bytes_full_(...)
#define _Field_size_bytes_full_opt_(...)
#define _Field_range_(...)
#define _Struct_size_bytes_(...)
#define _Success_(...)
#define _Return_type_success_(...)
#define _Always_(...)
#define _On_failure_(...)
#define _When_(...)
#define _At_(...)
#define _At_buffer_(...)
#define _Unchanged_(...)
#define _Inexpressible_(...)
#define _Analysis_assume_(...)
#define _Analysis_assume_lock_held_(...)
#define _Analysis_assume_lock_not_held_(...)
#define _Analysis_mode_(...)
#define _Acquires_lock_(...)
#define _Releases_lock_(...)
#define _Acquires_exclusive_lock_(...)
#define _Releases_exclusive_lock_(...)
#define _Acquires_shared_lock_(...)
#define _Releases_shared_lock_(...)
#define _Acquires_nonreentrant_lock_(...)
#define _Releases_nonreentrant_lock_(...)
#define _Requires_lock_held_(...)
#define _Requires_lock_not_held_(...)
#define _Requires_exclusive_lock_held_(...)
#define _Requires_shared_lock_held_(...)
#define _Requires_no_locks_held_
#define _Guarded_by_(...)
#define _Write_guarded_by_(...)
#define _Has_lock_kind_(...)
#define _Lock_level_order_(...)
#define _Create_lock_level_(...)
#define _IRQL_requires_(...)
#define _IRQL_requires_max_(...)
#define _IRQL_requires_min_(...)
#define _IRQL_raises_(...)
#define _IRQL_saves_global_(...)
#define _IRQL_restores_global_(...)
#define _IRQL_always_function_max_(...)
#define _IRQL_always_function_min_(...)
#define _Function_class_(...)
#define _Dispatch_type_(...)
#define _Kernel_requires_resource_held_(...)
#define _Kernel_requires_resource_not_held_(...)
#define _Kernel_acquires_resource_(...)
#define _Kernel_releases_resource_(...)
#define _Kernel_clear_do_init_(...)
#define _Kernel_IoGetDmaAdapter_
#define _Pre_equal_to_(...)
#define _Deref_pre_readonly_
#define _Deref_post_z_
#define _Deref_post_null_
#define _Deref_post_opt_valid_
#define _In_count_(...)
#define _In_bytecount_(...)
#define _Out_cap_(...)
#define _Out_bytecap_(...)
#define _Inout_cap_(...)
#define _Inout_bytecap_(...)

/* --- Legacy (SAL 1) spellings still found in older miniports -------------- */

#define __in
#define __in_opt
#define __in_z
#define __in_opt_z
#define __out
#define __out_opt
#define __inout
#define __inout_opt
#define __deref_out
#define __deref_out_opt
#define __deref_inout
#define __checkReturn
#define __callback
#define __success(...)
#define __in_ecount(...)
#define __in_bcount(...)
#define __in_ecount_opt(...)
#define __in_bcount_opt(...)
#define __out_ecount(...)
#define __out_bcount(...)
#define __out_ecount_opt(...)
#define __out_bcount_opt(...)
#define __out_ecount_part(...)
#define __out_bcount_part(...)
#define __out_ecount_full(...)
#define __out_bcount_full(...)
#define __inout_ecount(...)
#define __inout_bcount(...)
#define __inout_ecount_opt(...)
#define __inout_bcount_opt(...)
#define __field_ecount(...)
#define __field_bcount(...)
#define __field_ecount_opt(...)
#define __field_bcount_opt(...)
#define __range(...)
#define __deref_out_ecount(...)
#define __deref_out_bcount(...)

/* --- Driver annotations (driverspecs.h) ----------------------------------- */

#define __drv_aliasesMem
#define __drv_freesMem(...)
#define __drv_allocatesMem(...)
#define __drv_maxIRQL(...)
#define __drv_minIRQL(...)
#define __drv_requiresIRQL(...)
#define __drv_setsIRQL(...)
#define __drv_raisesIRQL(...)
#define __drv_savesIRQL
#define __drv_restoresIRQL
#define __drv_savesIRQLGlobal(...)
#define __drv_restoresIRQLGlobal(...)
#define __drv_sameIRQL
#define __drv_useCancelIRQL
#define __drv_isCancelIRQL
#define __drv_when(...)
#define __drv_at(...)
#define __drv_in(...)
#define __drv_out(...)
#define __drv_arg(...)
#define __drv_dispatchType(...)
#define __drv_dispatchType_other
#define __drv_functionClass(...)
#define __drv_strictType(...)
#define __drv_strictTypeMatch(...)
#define __drv_clearDoInit(...)
#define __drv_inTry
#define __drv_notInTry
#define __drv_valueIs(...)
#define __drv_isObjectPointer
#define __drv_acquiresResource(...)
#define __drv_releasesResource(...)
#define __drv_mustHold(...)
#define __drv_neverHold(...)
#define __drv_preferredFunction(...)
#define __drv_reportError(...)
#define __drv_floatUsed
#define __drv_floatSaved
#define __drv_floatRestored
#define __drv_interlocked
#define __drv_nonConstant
#define __drv_constant
#define __drv_formatString(...)
#define __drv_requiresIRQLGlobal(...)
#define __drv_acquiresCancelSpinLock
#define __drv_releasesCancelSpinLock
#define __drv_mustHoldCancelSpinLock
#define __drv_completionType(...)
#define __drv_deref(...)
#define __drv_innerMustHoldGlobal(...)
#define __drv_innerNeverHoldGlobal(...)
#define __drv_acquiresExclusiveResource(...)
#define __drv_releasesExclusiveResource(...)
#define __drv_fun(...)
#define __drv_ret(...)
#define __drv_allocatesMemIrp
#define __drv_freesMemIrp

#endif /* STOREMU_STORPORT_SAL_H */
