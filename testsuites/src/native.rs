//! The host-CPU oracle: runs a [`Case`] natively in 32-bit compatibility mode
//! inside this (64-bit Linux) process.
//!
//! # How it works
//!
//! 1. Once per process, the whole low 4 GiB of the address space (from
//!    0x1000) is reserved `PROT_NONE`, so that no Rust allocation can ever
//!    land there and every stray 32-bit access faults exactly like a
//!    non-present page on the emulator side. Over this reservation we map
//!    the code page (read+execute, through a `memfd` so that we can write it
//!    through a second read/write alias elsewhere), the data pages and the
//!    stack page at the addresses of [`crate::case`].
//! 2. Handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP are installed
//!    (`SA_SIGINFO | SA_ONSTACK`). A handler only takes over signals raised
//!    while `CS` is the 32-bit code selector; anything else is passed on to
//!    the previously installed handler (Rust's stack-overflow detector, ...).
//! 3. For each case, `vtx32_native_enter` (assembly below) saves the
//!    callee-saved registers and RSP, loads DS/ES with the flat data
//!    selector, loads the eight 32-bit GPRs and performs an `IRETQ` to
//!    `CS=0x23:INSN_ADDR` with the case's ESP, SS=0x2B and EFLAGS: the CPU is
//!    now executing 32-bit code.
//! 4. The instruction under test runs and is followed by `HLT` (which
//!    raises #GP at CPL 3) or faults itself. The kernel delivers a signal on
//!    our alternate stack; the handler copies the registers, trap number,
//!    error code and CR2 from the `ucontext`, then rewrites the `ucontext` so
//!    that `sigreturn` resumes 64-bit code at `vtx32_native_recover` with the
//!    saved RSP, which restores DS/ES and the callee-saved registers and
//!    returns to Rust.
//!
//! Only one case runs at a time in the whole process (the fixed mappings are
//! process-wide), guarded by a mutex. Asynchronous signals are blocked while
//! the 32-bit code runs, because it runs on a tiny 32-bit stack. A
//! per-thread watchdog timer (a real-time signal, `SIGRTMAX-3`, reserved
//! for this purpose) stops a case that never reaches a `HLT` (e.g. `JMP $`)
//! after 2 seconds and reports it as [`Outcome::Error`].
#![warn(missing_docs)]

use crate::case::{Case, Executor, Outcome};

/// Native executor: runs cases on the host CPU. See the module docs.
#[derive(Debug)]
pub struct NativeExecutor {
    _private: (),
}

impl NativeExecutor {
    /// Sets up the process (once) and returns an executor, or `None` when the
    /// host cannot run 32-bit code this way (not x86-64 Linux, no IA-32
    /// emulation, something already mapped below 4 GiB, ...). Use
    /// [`NativeExecutor::unavailable_reason`] to learn why.
    pub fn new() -> Option<Self> {
        imp::shared().ok().map(|_| NativeExecutor { _private: () })
    }

    /// Why [`NativeExecutor::new`] returns `None`, or `None` if it works.
    pub fn unavailable_reason() -> Option<String> {
        imp::shared().err()
    }
}

impl Executor for NativeExecutor {
    fn name(&self) -> &str {
        "host CPU"
    }

    fn execute(&mut self, case: &Case) -> Outcome {
        match imp::shared() {
            Ok(s) => imp::run(s, case),
            Err(e) => Outcome::Error(e),
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod imp {
    use crate::case::{Case, Outcome};

    pub struct Shared;

    pub fn shared() -> Result<&'static Shared, String> {
        Err("the native executor needs x86-64 Linux".to_string())
    }

    pub fn run(_: &Shared, _: &Case) -> Outcome {
        Outcome::Error("the native executor needs x86-64 Linux".to_string())
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod imp {
    use crate::case::{
        Case, FinalState, Outcome, CODE_BASE, CODE_SIZE, CS_SEL, DATA_BASE, DATA_SEL, DATA_SIZE,
        INSN_ADDR, MAX_INSN_LEN, OUTCOME_EFLAGS_MASK, STACK_BASE, STACK_SIZE,
    };
    use std::cell::UnsafeCell;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
    use std::sync::{Mutex, OnceLock};

    // ---------------------------------------------------------------------
    // Assembly: entering 32-bit code and coming back.
    // ---------------------------------------------------------------------
    //
    // `vtx32_native_enter(frame: *const EnterFrame, rsp_slot: *mut u64)`
    // never returns by itself: control comes back to Rust through the signal
    // handler, which resumes at `vtx32_native_recover` with RSP = *rsp_slot.
    std::arch::global_asm!(
        ".text",
        ".globl vtx32_native_enter",
        ".type vtx32_native_enter,@function",
        ".p2align 4",
        "vtx32_native_enter:",
        // Preserve the SysV callee-saved registers; the 32-bit code clobbers
        // the low halves of RBX/RBP (and the upper halves are undefined after
        // compat mode), and R12-R15 are not reachable from 32-bit code but we
        // keep the epilogue simple and symmetric.
        "    push rbx",
        "    push rbp",
        "    push r12",
        "    push r13",
        "    push r14",
        "    push r15",
        // Save the 64-bit DS and ES selectors (normally 0); they are restored
        // in vtx32_native_recover. FS/GS are never touched (TLS lives there).
        "    mov eax, ds",
        "    push rax",
        "    mov eax, es",
        "    push rax",
        // Remember the stack pointer: the signal handler resumes 64-bit
        // execution at vtx32_native_recover with exactly this RSP.
        "    mov [rsi], rsp",
        // Build the IRETQ frame: SS, RSP, RFLAGS, CS, RIP (pushed in this
        // order, so RIP ends up at the lowest address).
        "    push 0x2b",           // SS = flat user data segment
        "    mov eax, [rdi + 16]", // initial ESP (gpr[4]), zero-extended
        "    push rax",
        "    mov eax, [rdi + 32]", // initial EFLAGS (already sanitised)
        "    push rax",
        "    push 0x23",           // CS = 32-bit user code: compat mode
        "    mov eax, [rdi + 36]", // EIP = address of the instruction
        "    push rax",
        // In compatibility mode DS/ES are used for data accesses and a null
        // selector would fault: load the flat data selector. In 64-bit mode
        // these loads do not affect the [rdi+..] accesses below.
        "    mov eax, 0x2b",
        "    mov ds, eax",
        "    mov es, eax",
        // Load the 32-bit GPRs from the frame; EDI (the frame pointer
        // itself) is loaded last. ESP comes from the IRETQ frame.
        "    mov eax, [rdi + 0]",
        "    mov ecx, [rdi + 4]",
        "    mov edx, [rdi + 8]",
        "    mov ebx, [rdi + 12]",
        "    mov ebp, [rdi + 20]",
        "    mov esi, [rdi + 24]",
        "    mov edi, [rdi + 28]",
        // Pop RIP/CS/RFLAGS/RSP/SS: switches to CS=0x23 (32-bit), loads
        // EFLAGS (IF/IOPL changes are ignored at CPL 3) and the 32-bit stack.
        "    iretq",
        ".size vtx32_native_enter, . - vtx32_native_enter",
        "",
        ".globl vtx32_native_recover",
        ".type vtx32_native_recover,@function",
        ".p2align 4",
        "vtx32_native_recover:",
        // Reached through sigreturn: CS=0x33 (64-bit), SS=0x2b, RSP = the
        // value saved above. sigreturn only restores some RFLAGS bits from
        // the ucontext and keeps others (NT, ID) from the handler, which
        // inherited them from the 32-bit code (e.g. after POPF). Reset
        // RFLAGS explicitly: NT=1 would make the next IRETQ fault, AC=1
        // would make unaligned accesses of Rust code raise #AC, DF=1 breaks
        // the ABI. (IF cannot be changed at CPL 3 and stays 1.)
        "    push 0x202",
        "    popfq",
        "    pop rax",
        "    mov es, eax", // restore the 64-bit ES selector
        "    pop rax",
        "    mov ds, eax", // restore the 64-bit DS selector
        "    pop r15",
        "    pop r14",
        "    pop r13",
        "    pop r12",
        "    pop rbp",
        "    pop rbx",
        "    ret", // back into run(), after the call
        ".size vtx32_native_recover, . - vtx32_native_recover",
        "",
        ".globl vtx32_native_sigentry",
        ".type vtx32_native_sigentry,@function",
        ".p2align 4",
        "vtx32_native_sigentry:",
        // The kernel enters signal handlers with the interrupted context's
        // RFLAGS minus TF/DF/RF: AC and NT set by the 32-bit code (POPF)
        // would still be set. Clear them before any compiled code runs:
        // with AC=1 an unaligned access in the handler would raise #AC.
        // The push/pop pair keeps the stack alignment of a function entry.
        "    pushfq",
        "    and dword ptr [rsp], 0xFFFBBFFF", // clear AC (bit 18), NT (bit 14)
        "    popfq",
        "    jmp {handler}",                   // tail-call the Rust handler
        ".size vtx32_native_sigentry, . - vtx32_native_sigentry",
        handler = sym handler,
    );

    extern "C" {
        fn vtx32_native_enter(frame: *const EnterFrame, rsp_slot: *mut u64);
        fn vtx32_native_recover();
        fn vtx32_native_sigentry();
    }

    /// Register image consumed by `vtx32_native_enter` (offsets are used in
    /// the assembly: gpr at 0, eflags at 32, eip at 36).
    #[repr(C)]
    struct EnterFrame {
        gpr: [u32; 8],
        eflags: u32,
        eip: u32,
    }

    /// What the signal handler captured from the ucontext.
    #[derive(Clone, Copy, Default)]
    struct Capture {
        valid: bool,
        signo: i32,
        gpr: [u32; 8],
        eflags: u32,
        eip: u32,
        trapno: u64,
        err: u64,
        cr2: u64,
        ds: u16,
        es: u16,
        ss: u16,
        /// The watchdog fired (the code did not reach a HLT in time).
        timeout: bool,
    }

    /// A cell written only by the thread that holds `Shared::lock` (and by
    /// the signal handler running synchronously on that same thread).
    struct SyncCell<T>(UnsafeCell<T>);
    // SAFETY: every access happens with `Shared::lock` held, by that thread
    // or by a synchronous signal handler on that thread.
    unsafe impl<T> Sync for SyncCell<T> {}

    /// Set while the 32-bit code may be running.
    static ACTIVE: AtomicBool = AtomicBool::new(false);
    /// RSP to resume 64-bit code with (written by the assembly).
    static SAVED_RSP: AtomicU64 = AtomicU64::new(0);
    /// Result of the last run.
    static CAPTURE: SyncCell<Capture> = SyncCell(UnsafeCell::new(Capture {
        valid: false,
        signo: 0,
        gpr: [0; 8],
        eflags: 0,
        eip: 0,
        trapno: 0,
        err: 0,
        cr2: 0,
        ds: 0,
        es: 0,
        ss: 0,
        timeout: false,
    }));

    /// Real-time signal used by the per-thread watchdog timer (set in init).
    static WATCHDOG_SIG: AtomicI32 = AtomicI32::new(0);
    /// Wall-clock limit for one case: generated cases take microseconds;
    /// only a case that branches onto itself forever can hit it.
    const WATCHDOG_SECS: libc::time_t = 2;

    /// A POSIX timer delivering WATCHDOG_SIG to one thread.
    struct Watchdog(libc::timer_t);

    impl Drop for Watchdog {
        fn drop(&mut self) {
            // SAFETY: the timer was created by timer_create and is deleted once.
            unsafe {
                libc::timer_delete(self.0);
            }
        }
    }

    thread_local! {
        /// This thread's watchdog timer, created on first use.
        static WATCHDOG: std::cell::RefCell<Option<Watchdog>> = const { std::cell::RefCell::new(None) };
    }

    /// Arms (`secs > 0`) or disarms (`secs == 0`) this thread's watchdog.
    fn watchdog(secs: libc::time_t) -> Result<(), String> {
        WATCHDOG.with(|w| {
            let mut w = w.borrow_mut();
            if w.is_none() {
                // SAFETY: plain timer_create; the sigevent is fully
                // initialised (zeroed, then the fields we use).
                unsafe {
                    let mut ev: libc::sigevent = std::mem::zeroed();
                    ev.sigev_notify = libc::SIGEV_THREAD_ID;
                    ev.sigev_signo = WATCHDOG_SIG.load(Ordering::SeqCst);
                    ev.sigev_notify_thread_id = libc::gettid();
                    let mut t: libc::timer_t = std::mem::zeroed();
                    if libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut t) != 0 {
                        return Err(errno_str("timer_create"));
                    }
                    *w = Some(Watchdog(t));
                }
            }
            let Some(t) = w.as_ref() else {
                return Err("watchdog timer missing".to_string());
            };
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: secs,
                    tv_nsec: 0,
                },
            };
            // SAFETY: valid timer and itimerspec.
            if unsafe { libc::timer_settime(t.0, 0, &spec, ptr::null_mut()) } != 0 {
                return Err(errno_str("timer_settime"));
            }
            Ok(())
        })
    }

    /// Signals the handler catches.
    const SIGNALS: [libc::c_int; 5] = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGTRAP,
    ];

    /// Previously installed actions, for chaining (index as in SIGNALS).
    static OLD_ACTIONS: OnceLock<[libc::sigaction; 5]> = OnceLock::new();

    /// Process-wide state of the native executor.
    pub struct Shared {
        /// Serialises runs (the mappings and statics are process-wide).
        lock: Mutex<()>,
        /// Read/write alias of the code page.
        code_alias: usize,
        /// Alternate signal stack (base, size).
        altstack: (usize, usize),
    }

    const ALTSTACK_SIZE: usize = 256 * 1024;

    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();

    /// The process-wide state, initialised on first use.
    pub fn shared() -> Result<&'static Shared, String> {
        SHARED.get_or_init(init).as_ref().map_err(Clone::clone)
    }

    fn errno_str(what: &str) -> String {
        format!("{what}: {}", std::io::Error::last_os_error())
    }

    /// Mappings below 4 GiB listed in /proc/self/maps, for diagnostics.
    fn low_mappings() -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        maps.lines()
            .filter(|l| {
                l.split('-')
                    .next()
                    .and_then(|s| u64::from_str_radix(s, 16).ok())
                    .is_some_and(|a| a < 0x1_0000_0000)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn init() -> Result<Shared, String> {
        // SAFETY: plain system calls on address ranges we reserve for
        // ourselves (MAP_FIXED_NOREPLACE refuses to clobber anything).
        unsafe {
            // 1. Reserve [0x1000, 4 GiB) so nothing else can live there.
            let low = 0x1000usize;
            let len = 0x1_0000_0000usize - low;
            let p = libc::mmap(
                low as *mut libc::c_void,
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE
                    | libc::MAP_ANONYMOUS
                    | libc::MAP_NORESERVE
                    | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            );
            if p == libc::MAP_FAILED || p as usize != low {
                let e = errno_str("reserving the low 4 GiB");
                if p != libc::MAP_FAILED {
                    libc::munmap(p, len);
                }
                return Err(format!("{e}; mappings below 4 GiB:\n{}", low_mappings()));
            }

            // 2. Code page: a memfd mapped read+exec at CODE_BASE and
            //    read/write at a kernel-chosen (high) address.
            let fd = libc::memfd_create(c"vtx32-native-code".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(errno_str("memfd_create"));
            }
            if libc::ftruncate(fd, CODE_SIZE as libc::off_t) != 0 {
                let e = errno_str("ftruncate");
                libc::close(fd);
                return Err(e);
            }
            let code = libc::mmap(
                CODE_BASE as usize as *mut libc::c_void,
                CODE_SIZE as usize,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_SHARED | libc::MAP_FIXED,
                fd,
                0,
            );
            if code == libc::MAP_FAILED {
                let e = errno_str("mapping the code page");
                libc::close(fd);
                return Err(e);
            }
            let alias = libc::mmap(
                ptr::null_mut(),
                CODE_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            libc::close(fd);
            if alias == libc::MAP_FAILED {
                return Err(errno_str("mapping the code alias"));
            }
            if (alias as usize) < 0x1_0000_0000 {
                return Err("code alias landed below 4 GiB".to_string());
            }

            // 3. Data and stack pages.
            for (base, size) in [(DATA_BASE, DATA_SIZE), (STACK_BASE, STACK_SIZE)] {
                let m = libc::mmap(
                    base as usize as *mut libc::c_void,
                    size as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                );
                if m == libc::MAP_FAILED {
                    return Err(errno_str("mapping data/stack"));
                }
            }

            // 4. Alternate signal stack (the 32-bit ESP is useless to us).
            let alt = libc::mmap(
                ptr::null_mut(),
                ALTSTACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if alt == libc::MAP_FAILED {
                return Err(errno_str("mapping the signal stack"));
            }

            // 5. Signal handlers, chaining to the previous ones.
            let mut olds: [libc::sigaction; 5] = std::mem::zeroed();
            for (i, &sig) in SIGNALS.iter().enumerate() {
                if libc::sigaction(sig, ptr::null(), &mut olds[i]) != 0 {
                    return Err(errno_str("sigaction (query)"));
                }
            }
            // Publish the old actions before our handler can run.
            let _ = OLD_ACTIONS.set(olds);
            for &sig in &SIGNALS {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = vtx32_native_sigentry as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(sig, &sa, ptr::null_mut()) != 0 {
                    return Err(errno_str("sigaction (install)"));
                }
            }

            // The watchdog signal: a real-time signal nobody else uses.
            let wsig = libc::SIGRTMAX() - 3;
            WATCHDOG_SIG.store(wsig, Ordering::SeqCst);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = vtx32_native_sigentry as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(wsig, &sa, ptr::null_mut()) != 0 {
                return Err(errno_str("sigaction (watchdog)"));
            }

            let shared = Shared {
                lock: Mutex::new(()),
                code_alias: alias as usize,
                altstack: (alt as usize, ALTSTACK_SIZE),
            };

            // 6. Probe: a NOP must complete at INSN_ADDR + 1.
            let probe = Case {
                insn: vec![0x90],
                gpr: [0, 0, 0, 0, STACK_BASE + 0x800, 0, 0, 0],
                eflags: 0,
                data: vec![0; DATA_SIZE as usize],
                stack: vec![0; STACK_SIZE as usize],
                family: crate::case::Family::Misc,
            };
            match run(&shared, &probe) {
                Outcome::Completed(s) if s.eip == INSN_ADDR + 1 => Ok(shared),
                other => Err(format!(
                    "32-bit compatibility-mode probe failed: {}",
                    other.summary()
                )),
            }
        }
    }

    /// Reads the DS and ES selectors of the current thread.
    fn read_ds_es() -> (u16, u16) {
        let ds: u32;
        let es: u32;
        // SAFETY: reading segment selectors has no side effects.
        unsafe {
            std::arch::asm!(
                "mov {0:e}, ds",
                "mov {1:e}, es",
                out(reg) ds,
                out(reg) es,
                options(nomem, nostack, preserves_flags)
            );
        }
        (ds as u16, es as u16)
    }

    /// The signal handler. Takes over only signals raised by our 32-bit
    /// code (CS = 0x23 in the interrupted context); chains otherwise.
    extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid ucontext_t for SA_SIGINFO
        // handlers; we only touch the register array of the mcontext.
        unsafe {
            let uc = ctx as *mut libc::ucontext_t;
            let gregs = &mut (*uc).uc_mcontext.gregs;
            // REG_CSGSFS packs cs (bits 0..16), gs, fs, ss (bits 48..64).
            let csgsfs = gregs[libc::REG_CSGSFS as usize] as u64;
            let cs = (csgsfs & 0xffff) as u16;
            let ours = cs == CS_SEL && ACTIVE.load(Ordering::SeqCst);
            let is_watchdog = sig == WATCHDOG_SIG.load(Ordering::SeqCst);
            if !ours {
                // A stale watchdog expiry (after the case finished) is
                // ignored; other signals go to the previous handler.
                if !is_watchdog {
                    chain(sig, info, ctx);
                }
                return;
            }
            let (ds, es) = read_ds_es();
            let g = |r: libc::c_int| gregs[r as usize] as u64 as u32;
            let cap = Capture {
                valid: true,
                signo: sig,
                gpr: [
                    g(libc::REG_RAX),
                    g(libc::REG_RCX),
                    g(libc::REG_RDX),
                    g(libc::REG_RBX),
                    g(libc::REG_RSP),
                    g(libc::REG_RBP),
                    g(libc::REG_RSI),
                    g(libc::REG_RDI),
                ],
                eflags: g(libc::REG_EFL),
                eip: g(libc::REG_RIP),
                trapno: gregs[libc::REG_TRAPNO as usize] as u64,
                err: gregs[libc::REG_ERR as usize] as u64,
                cr2: gregs[libc::REG_CR2 as usize] as u64,
                ds,
                es,
                ss: (csgsfs >> 48) as u16,
                timeout: is_watchdog,
            };
            ptr::write(CAPTURE.0.get(), cap);
            // Resume 64-bit code: RIP = recovery label, CS = __USER_CS
            // (0x33), SS = __USER_DS (0x2b), RSP = saved 64-bit stack,
            // RFLAGS = IF only (DF clear, AC clear, no TF).
            gregs[libc::REG_RIP as usize] = vtx32_native_recover as *const () as usize as i64;
            gregs[libc::REG_RSP as usize] = SAVED_RSP.load(Ordering::SeqCst) as i64;
            gregs[libc::REG_EFL as usize] = 0x202;
            let new = (csgsfs & 0x0000_ffff_ffff_0000) | 0x33 | (u64::from(DATA_SEL) << 48);
            gregs[libc::REG_CSGSFS as usize] = new as i64;
        }
    }

    /// Passes a signal we do not own to the handler that was installed
    /// before ours (or to the default action).
    unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let idx = SIGNALS.iter().position(|&s| s == sig);
        let old = match (idx, OLD_ACTIONS.get()) {
            (Some(i), Some(olds)) => olds[i],
            // SAFETY: all-zero is a valid sigaction (SIG_DFL).
            _ => std::mem::zeroed(),
        };
        if old.sa_sigaction == libc::SIG_DFL || old.sa_sigaction == libc::SIG_IGN {
            // Restore the default action and return: a synchronous fault
            // re-executes and now kills the process as it would have
            // without us; an asynchronous signal is re-raised.
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, ptr::null_mut());
            if !info.is_null() && (*info).si_code <= 0 {
                libc::raise(sig);
            }
        } else if old.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(old.sa_sigaction);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(old.sa_sigaction);
            f(sig);
        }
    }

    /// Runs one case. `shared` must be the initialised state.
    pub fn run(shared: &Shared, case: &Case) -> Outcome {
        if case.insn.is_empty() || case.insn.len() > MAX_INSN_LEN {
            return Outcome::Error(format!("bad instruction length {}", case.insn.len()));
        }
        if case.data.len() != DATA_SIZE as usize || case.stack.len() != STACK_SIZE as usize {
            return Outcome::Error("data/stack image has the wrong size".to_string());
        }
        let _guard = shared.lock.lock().unwrap_or_else(|e| e.into_inner());
        let code = case.code_page();
        // SAFETY: the pages were mapped in init() with these sizes; we hold
        // the lock, so no other run uses them. The assembly call follows the
        // protocol described in the module docs.
        unsafe {
            ptr::copy_nonoverlapping(code.as_ptr(), shared.code_alias as *mut u8, code.len());
            ptr::copy_nonoverlapping(
                case.data.as_ptr(),
                DATA_BASE as usize as *mut u8,
                case.data.len(),
            );
            ptr::copy_nonoverlapping(
                case.stack.as_ptr(),
                STACK_BASE as usize as *mut u8,
                case.stack.len(),
            );
            let frame = EnterFrame {
                gpr: case.gpr,
                eflags: case.initial_eflags(),
                eip: INSN_ADDR,
            };

            // Our alternate stack for the duration of the run.
            let ss = libc::stack_t {
                ss_sp: shared.altstack.0 as *mut libc::c_void,
                ss_flags: 0,
                ss_size: shared.altstack.1,
            };
            let mut old_ss: libc::stack_t = std::mem::zeroed();
            if libc::sigaltstack(&ss, &mut old_ss) != 0 {
                return Outcome::Error(errno_str("sigaltstack"));
            }
            // Block every signal but the synchronous ones we expect.
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut mask);
            for &s in &SIGNALS {
                libc::sigdelset(&mut mask, s);
            }
            libc::sigdelset(&mut mask, WATCHDOG_SIG.load(Ordering::SeqCst));
            if let Err(e) = watchdog(WATCHDOG_SECS) {
                libc::sigaltstack(&old_ss, ptr::null_mut());
                return Outcome::Error(e);
            }
            let mut old_mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, &mask, &mut old_mask);

            (*CAPTURE.0.get()).valid = false;
            ACTIVE.store(true, Ordering::SeqCst);
            vtx32_native_enter(&frame, SAVED_RSP.as_ptr());
            ACTIVE.store(false, Ordering::SeqCst);

            // Disarm before unblocking: a late expiry is ignored anyway.
            let disarm = watchdog(0);
            libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, ptr::null_mut());
            libc::sigaltstack(&old_ss, ptr::null_mut());

            let cap = ptr::read(CAPTURE.0.get());
            if !cap.valid {
                return Outcome::Error("signal handler did not capture a state".to_string());
            }
            if cap.timeout {
                return Outcome::Error(format!(
                    "watchdog: no HLT reached within {WATCHDOG_SECS} s (EIP={:08x}): \
                     the case loops forever",
                    cap.eip
                ));
            }
            if let Err(e) = disarm {
                return Outcome::Error(e);
            }
            let mut data = vec![0u8; DATA_SIZE as usize];
            ptr::copy_nonoverlapping(
                DATA_BASE as usize as *const u8,
                data.as_mut_ptr(),
                data.len(),
            );
            let mut stack = vec![0u8; STACK_SIZE as usize];
            ptr::copy_nonoverlapping(
                STACK_BASE as usize as *const u8,
                stack.as_mut_ptr(),
                stack.len(),
            );
            let state = FinalState {
                gpr: cap.gpr,
                eflags: cap.eflags & OUTCOME_EFLAGS_MASK,
                eip: cap.eip,
                ds: cap.ds,
                es: cap.es,
                ss: cap.ss,
                data,
                stack,
            };
            if cap.trapno > 31 {
                return Outcome::Error(format!(
                    "signal {} with unexpected trap number {}",
                    cap.signo, cap.trapno
                ));
            }
            Outcome::from_exception(
                case,
                cap.trapno as u8,
                Some(cap.err as u32),
                Some(cap.cr2 as u32),
                state,
            )
        }
    }

    // Keep the constant referenced for readers of the layout.
    const _: () = assert!(INSN_ADDR >= CODE_BASE && INSN_ADDR < CODE_BASE + CODE_SIZE);
}
