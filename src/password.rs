//! The password backend: account passwords checked through PAM (`pam_authenticate` and
//! `pam_acct_mgmt`) with the configured service. Blocking; callers run it off the async
//! runtime and bound how many run at once.
#![allow(unsafe_code)]

use libc::{c_char, c_int, c_void};
use std::ffi::CString;
use std::ptr;
use zeroize::Zeroizing;

const PAM_SUCCESS: c_int = 0;
const PAM_BUF_ERR: c_int = 5;
const PAM_CONV_ERR: c_int = 19;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_SILENT: c_int = 0x8000;
const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;
const PAM_RHOST: c_int = 4;

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

type ConvFn =
    extern "C" fn(c_int, *mut *const PamMessage, *mut *mut PamResponse, *mut c_void) -> c_int;

#[repr(C)]
struct PamConv {
    conv: ConvFn,
    appdata_ptr: *mut c_void,
}

// The runtime library by its soname, not `-lpam`: `-lpam` needs the `libpam.so` symlink
// of libpam0g-dev, while `libpam.so.0` is on every Debian system (libpam0g is required).
#[link(name = "libpam.so.0", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn pam_start(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        pamh: *mut *mut c_void,
    ) -> c_int;
    fn pam_authenticate(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_acct_mgmt(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_set_item(pamh: *mut c_void, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_end(pamh: *mut c_void, status: c_int) -> c_int;
}

/// Answers every prompt with the password (`appdata_ptr` points at a NUL-terminated copy).
extern "C" fn converse(
    n: c_int,
    msgs: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    data: *mut c_void,
) -> c_int {
    if n <= 0 || n > 32 || msgs.is_null() || resp.is_null() || data.is_null() {
        return PAM_CONV_ERR;
    }
    let count = n as usize;
    // SAFETY: calloc returns zeroed memory for `count` responses or null; PAM frees it.
    let replies =
        unsafe { libc::calloc(count, std::mem::size_of::<PamResponse>()) } as *mut PamResponse;
    if replies.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..count {
        // SAFETY: libpam passes `n` valid message pointers (Linux-PAM's array layout).
        let msg = unsafe { *msgs.add(i) };
        if msg.is_null() {
            continue;
        }
        // SAFETY: `msg` is non-null and points at a PamMessage owned by libpam.
        let style = unsafe { (*msg).msg_style };
        if style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON {
            // SAFETY: `data` is the CString pointer set up in `authenticate`, alive for
            // the whole PAM transaction; strdup copies it into memory libpam will free.
            let copy = unsafe { libc::strdup(data as *const c_char) };
            // SAFETY: `i < count`, inside the calloc'd array.
            unsafe { (*replies.add(i)).resp = copy };
        }
    }
    // SAFETY: `resp` is non-null; ownership of `replies` passes to libpam.
    unsafe { *resp = replies };
    PAM_SUCCESS
}

/// Checks `password` for `user` through the PAM service `service`, with the client
/// address as `PAM_RHOST` when known. True only when authentication and account checks pass.
pub fn authenticate(service: &str, user: &str, password: &[u8], rhost: Option<&str>) -> bool {
    let (Ok(service), Ok(user)) = (CString::new(service), CString::new(user)) else {
        return false;
    };
    // A password with a NUL byte cannot be passed to PAM; it is simply wrong.
    let Ok(secret) = CString::new(password.to_vec()) else {
        return false;
    };
    let secret = Zeroizing::new(secret.into_bytes_with_nul());
    let rhost = rhost.and_then(|r| CString::new(r).ok());
    let conv = PamConv {
        conv: converse,
        appdata_ptr: secret.as_ptr() as *mut c_void,
    };
    let mut handle: *mut c_void = ptr::null_mut();
    // SAFETY: all pointers are valid NUL-terminated strings or the conv struct, which
    // outlive the transaction (they live until the end of this function).
    let mut rc = unsafe { pam_start(service.as_ptr(), user.as_ptr(), &conv, &mut handle) };
    if rc != PAM_SUCCESS || handle.is_null() {
        return false;
    }
    if let Some(r) = &rhost {
        // SAFETY: `handle` is a live PAM handle; PAM copies the string.
        rc = unsafe { pam_set_item(handle, PAM_RHOST, r.as_ptr() as *const c_void) };
    }
    if rc == PAM_SUCCESS {
        // SAFETY: `handle` is a live PAM handle from pam_start.
        rc = unsafe { pam_authenticate(handle, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK) };
    }
    if rc == PAM_SUCCESS {
        // SAFETY: as above.
        rc = unsafe { pam_acct_mgmt(handle, PAM_SILENT) };
    }
    // SAFETY: `handle` is live and not used after this call.
    unsafe { pam_end(handle, rc) };
    rc == PAM_SUCCESS
}
