//! The libpam side: FFI declarations, the exported `pam_sm_*` entry points and the
//! [`PamHandle`] implementation over a real `pam_handle_t`. Everything that decides lives
//! in `decide`; this file only moves bytes across the C boundary.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use zeroize::Zeroizing;

use crate::args::Args;
use crate::conn::SocketChecker;
use crate::decide::{authenticate, Level, PamCode, PamHandle};

/// libpam's opaque handle; only ever used behind a pointer.
#[repr(C)]
pub struct PamHandleT {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

const PAM_SERVICE: c_int = 1;
const PAM_RHOST: c_int = 4;
const PAM_AUTHTOK: c_int = 6;
const PAM_PROMPT_ECHO_OFF: c_int = 1;

// Linked by soname (`-l:libpam.so.0`), so building needs no libpam0g-dev: see
// `src/password.rs`. The host (sshd, login) has loaded this library already.
#[link(name = "libpam.so.0", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    fn pam_get_user(
        pamh: *mut PamHandleT,
        user: *mut *const c_char,
        prompt: *const c_char,
    ) -> c_int;
    fn pam_get_item(pamh: *const PamHandleT, item_type: c_int, item: *mut *const c_void) -> c_int;
    fn pam_set_item(pamh: *mut PamHandleT, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_prompt(
        pamh: *mut PamHandleT,
        style: c_int,
        response: *mut *mut c_char,
        fmt: *const c_char,
        ...
    ) -> c_int;
    fn pam_syslog(pamh: *const PamHandleT, priority: c_int, fmt: *const c_char, ...);
}

/// Runs an entry point's body so that no panic crosses into the host: a panic becomes
/// `PAM_SERVICE_ERR`, and a null handle is refused before anything touches it.
fn guard(pamh: *mut PamHandleT, body: impl FnOnce(Handle) -> PamCode) -> c_int {
    let Some(ptr) = NonNull::new(pamh) else {
        return PamCode::SERVICE_ERR.0;
    };
    catch_unwind(AssertUnwindSafe(|| body(Handle { ptr })))
        .map_or(PamCode::SERVICE_ERR.0, |code| code.0)
}

/// Copies `argv` into owned strings; a null array or entry counts as absent.
///
/// # Safety
/// `argv`, when not null, points to `argc` pointers that are null or NUL-terminated strings.
unsafe fn arguments(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    let Ok(count) = usize::try_from(argc) else {
        return Vec::new();
    };
    if argv.is_null() {
        return Vec::new();
    }
    (0..count)
        .filter_map(|i| {
            // SAFETY: the caller promises `argv` holds `argc` entries.
            let arg = unsafe { *argv.add(i) };
            (!arg.is_null()).then(|| {
                // SAFETY: a non-null entry is a NUL-terminated string owned by libpam.
                unsafe { CStr::from_ptr(arg) }
                    .to_string_lossy()
                    .into_owned()
            })
        })
        .collect()
}

/// Checks the user's API token with apitokend (see the SPEC table for the results).
///
/// # Safety
/// Called by libpam with a valid handle (or null) and `argc` argument strings in `argv`.
#[no_mangle]
pub unsafe extern "C" fn pam_sm_authenticate(
    pamh: *mut PamHandleT,
    _flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    guard(pamh, |mut handle| {
        // SAFETY: libpam passes its own argument vector of `argc` strings.
        let argv = unsafe { arguments(argc, argv) };
        let args = match Args::parse(argv.iter().map(String::as_str)) {
            Ok(args) => args,
            Err(bad) => {
                handle.log(Level::Error, &bad.to_string());
                return PamCode::SERVICE_ERR;
            }
        };
        let checker = SocketChecker {
            path: args.socket.clone(),
            timeout: args.timeout,
        };
        authenticate(&mut handle, &args, &checker)
    })
}

/// Tokens carry no credentials to establish, so this always succeeds.
///
/// # Safety
/// Called by libpam with a valid handle (or null).
#[no_mangle]
pub unsafe extern "C" fn pam_sm_setcred(
    pamh: *mut PamHandleT,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    guard(pamh, |_| PamCode::SUCCESS)
}

/// The module only authenticates. A line for it in the account, session or password
/// stack is neutral (`PAM_IGNORE`) rather than a hard failure: it neither grants nor
/// denies, and a stack in which every module ignores still fails.
macro_rules! neutral_entry_point {
    ($($name:ident),*) => {$(
        /// Not an authentication call: returns `PAM_IGNORE`.
        ///
        /// # Safety
        /// Called by libpam; the arguments are not used.
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            pamh: *mut PamHandleT,
            _flags: c_int,
            _argc: c_int,
            _argv: *const *const c_char,
        ) -> c_int {
            guard(pamh, |_| PamCode::IGNORE)
        }
    )*};
}

neutral_entry_point!(
    pam_sm_acct_mgmt,
    pam_sm_open_session,
    pam_sm_close_session,
    pam_sm_chauthtok
);

/// A live libpam handle, valid for the duration of one entry point call.
struct Handle {
    ptr: NonNull<PamHandleT>,
}

impl Handle {
    /// Reads a string item; `None` when unset or libpam refuses.
    fn item(&self, item_type: c_int) -> Option<&CStr> {
        let mut value: *const c_void = ptr::null();
        // SAFETY: the handle is live and `value` is a valid place for libpam to write.
        let code = unsafe { pam_get_item(self.ptr.as_ptr(), item_type, &mut value) };
        if code != PamCode::SUCCESS.0 || value.is_null() {
            return None;
        }
        // SAFETY: string items are NUL-terminated and owned by libpam for the whole call.
        Some(unsafe { CStr::from_ptr(value.cast()) })
    }
}

/// A C string for libpam: interior NULs (never expected) become `?` instead of truncating.
fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "?")).unwrap_or_default()
}

impl PamHandle for Handle {
    fn user(&mut self) -> Result<String, PamCode> {
        let mut user: *const c_char = ptr::null();
        // SAFETY: the handle is live, `user` is writable and a null prompt means the default.
        let code = unsafe { pam_get_user(self.ptr.as_ptr(), &mut user, ptr::null()) };
        if code != PamCode::SUCCESS.0 {
            return Err(PamCode(code));
        }
        if user.is_null() {
            return Err(PamCode::USER_UNKNOWN);
        }
        // SAFETY: on success libpam returns its own NUL-terminated PAM_USER.
        let user = unsafe { CStr::from_ptr(user) };
        user.to_str()
            .map(str::to_owned)
            .map_err(|_| PamCode::USER_UNKNOWN)
    }

    fn authtok(&self) -> Result<Option<Zeroizing<Vec<u8>>>, PamCode> {
        Ok(self
            .item(PAM_AUTHTOK)
            .map(|tok| Zeroizing::new(tok.to_bytes().to_vec())))
    }

    fn prompt_secret(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, PamCode> {
        let prompt = c_text(prompt);
        let mut response: *mut c_char = ptr::null_mut();
        // SAFETY: the handle is live, `response` is writable, and the format "%s" takes
        // exactly the one NUL-terminated string passed after it.
        let code = unsafe {
            pam_prompt(
                self.ptr.as_ptr(),
                PAM_PROMPT_ECHO_OFF,
                &mut response,
                c"%s".as_ptr(),
                prompt.as_ptr(),
            )
        };
        if code != PamCode::SUCCESS.0 {
            return Err(PamCode(code));
        }
        if response.is_null() {
            return Err(PamCode::CONV_ERR);
        }
        // SAFETY: a successful pam_prompt returns a NUL-terminated string from malloc.
        let len = unsafe { libc::strlen(response) };
        // SAFETY: `response` is valid for `len` bytes, which we copy and then overwrite.
        let secret = unsafe {
            let bytes = std::slice::from_raw_parts_mut(response.cast::<u8>(), len);
            let copy = Zeroizing::new(bytes.to_vec());
            zeroize::Zeroize::zeroize(bytes);
            copy
        };
        // SAFETY: the response was allocated with malloc by the conversation and is ours.
        unsafe { libc::free(response.cast()) };
        Ok(secret)
    }

    fn set_authtok(&mut self, secret: &[u8]) -> Result<(), PamCode> {
        if secret.contains(&0) {
            return Err(PamCode::AUTH_ERR);
        }
        let mut c_secret = Zeroizing::new(Vec::with_capacity(secret.len() + 1));
        c_secret.extend_from_slice(secret);
        c_secret.push(0);
        // SAFETY: the handle is live and `c_secret` is NUL-terminated; libpam copies it.
        let code =
            unsafe { pam_set_item(self.ptr.as_ptr(), PAM_AUTHTOK, c_secret.as_ptr().cast()) };
        if code == PamCode::SUCCESS.0 {
            Ok(())
        } else {
            Err(PamCode(code))
        }
    }

    fn rhost(&self) -> String {
        self.item(PAM_RHOST)
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn service(&self) -> String {
        self.item(PAM_SERVICE)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn log(&self, level: Level, message: &str) {
        let priority = match level {
            Level::Error => libc::LOG_ERR,
            Level::Notice => libc::LOG_NOTICE,
            Level::Debug => libc::LOG_DEBUG,
        };
        let message = c_text(message);
        // SAFETY: the handle is live and the format "%s" takes exactly one C string.
        unsafe {
            pam_syslog(
                self.ptr.as_ptr(),
                priority,
                c"%s".as_ptr(),
                message.as_ptr(),
            )
        };
    }
}
