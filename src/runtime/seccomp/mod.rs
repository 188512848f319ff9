//! Seccomp: the spec's `linux.seccomp` compiled into a classic BPF filter (in the caller,
//! so errors surface before forking) and installed on the container's process.
//!
//! The filter checks the architecture first: the native one (x86_64) is matched rule by
//! rule, in spec order, first match wins; calls through another ABI (i386 `int 0x80`, x32)
//! get the default action when that denies, and kill the process when the default allows —
//! a deny-list must not be bypassable through a second system call table.

#[cfg(target_arch = "x86_64")]
mod syscalls_x86_64;

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::error::RuntimeError;
use super::sync::{ChildFailure, StepContext};

#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "x86_64")]
use syscalls_x86_64::SYSCALLS;
#[cfg(not(target_arch = "x86_64"))]
const NATIVE_ARCH: u32 = 0;
#[cfg(not(target_arch = "x86_64"))]
const SYSCALLS: &[(&str, u32)] = &[];

/// x32 system calls share x86_64's architecture value and set this bit in the number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Offsets into `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_ALU_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// A compiled filter, ready to install.
#[derive(Debug, Clone)]
pub struct SeccompFilter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
}

impl PartialEq for SeccompFilter {
    fn eq(&self, other: &Self) -> bool {
        self.flags == other.flags
            && self.program.len() == other.program.len()
            && self
                .program
                .iter()
                .zip(&other.program)
                .all(|(a, b)| (a.code, a.jt, a.jf, a.k) == (b.code, b.jt, b.jf, b.k))
    }
}

impl SeccompFilter {
    pub fn compile(seccomp: &LinuxSeccomp) -> Result<Self, RuntimeError> {
        if SYSCALLS.is_empty() {
            return Err(RuntimeError::InvalidSpec(
                "seccomp filters are only supported on x86_64".into(),
            ));
        }
        let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
        let mut program = vec![
            load(OFFSET_ARCH),
            jump(BPF_JEQ_K, NATIVE_ARCH, 1, 0),
            ret(foreign_abi_action(default)),
            load(OFFSET_NR),
            jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
            ret(foreign_abi_action(default)),
        ];
        for rule in seccomp.syscalls().iter().flatten() {
            let verdict = action(rule.action(), rule.errno_ret())?;
            // Unknown names are skipped, as runc and libseccomp do: profiles list system
            // calls of newer kernels.
            let numbers = rule
                .names()
                .iter()
                .filter_map(|name| SYSCALLS.iter().find(|(n, _)| n == name).map(|(_, nr)| *nr));
            for nr in numbers {
                program.extend(rule_block(
                    nr,
                    rule.args().as_deref().unwrap_or(&[]),
                    verdict,
                )?);
            }
        }
        program.push(ret(default));
        if program.len() > u16::MAX as usize || program.len() > 4096 {
            return Err(RuntimeError::InvalidSpec(format!(
                "seccomp profile too large: {} BPF instructions (the kernel takes 4096)",
                program.len()
            )));
        }
        let mut flags = 0;
        for flag in seccomp.flags().iter().flatten() {
            flags |= match flag {
                LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
                LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                    libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
                }
                // The container's process is single-threaded when the filter goes in.
                LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 0,
            };
        }
        Ok(Self { program, flags })
    }

    /// Install the filter on the calling process (needs `no_new_privs` or CAP_SYS_ADMIN).
    pub fn install(&self) -> Result<(), ChildFailure> {
        let prog = libc::sock_fprog {
            // `compile` keeps the program within u16.
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: seccomp(2) reads `prog` and the instructions it points to, which outlive
        // the call; the kernel copies the program.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        nix::errno::Errno::result(rc)
            .map(drop)
            .step(|| "installing the seccomp filter".into())
    }
}

/// The instructions for one system call under one rule: if the number matches and every
/// argument condition holds, return `verdict`; otherwise fall through (with the number
/// reloaded into the accumulator).
fn rule_block(
    nr: u32,
    args: &[LinuxSeccompArg],
    verdict: u32,
) -> Result<Vec<libc::sock_filter>, RuntimeError> {
    if args.is_empty() {
        return Ok(vec![jump(BPF_JEQ_K, nr, 0, 1), ret(verdict)]);
    }
    // Conditions jump to "skip" (the reload after the return) when they fail.
    let mut conditions: Vec<Condition> = Vec::new();
    for arg in args {
        conditions.push(Condition::from_arg(arg)?);
    }
    let mut body: Vec<Instruction> = Vec::new();
    for condition in &conditions {
        body.extend(condition.instructions());
    }
    // Layout: [jeq nr] [body...] [ret verdict] [load nr]; "Skip" targets the final load.
    let body_len = body.len();
    let mut block = vec![jump(BPF_JEQ_K, nr, 0, to_u8(body_len + 1)?)];
    for (i, instruction) in body.iter().enumerate() {
        let here = i + 1; // index within block
        let skip = body_len + 2; // index of the reload
        let offset = |target: Target| -> Result<u8, RuntimeError> {
            match target {
                Target::Next => Ok(0),
                Target::Skip => to_u8(skip - here - 1),
                Target::Ahead(n) => Ok(n),
            }
        };
        block.push(match *instruction {
            Instruction::Load(offset_bytes) => load(offset_bytes),
            Instruction::And(mask) => stmt(BPF_ALU_AND_K, mask),
            Instruction::Jump(code, k, jt, jf) => jump(code, k, offset(jt)?, offset(jf)?),
        });
    }
    block.push(ret(verdict));
    block.push(load(OFFSET_NR));
    Ok(block)
}

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The following instruction.
    Next,
    /// Past this rule: the condition failed.
    Skip,
    /// `n` instructions further (to the next condition, when this one already holds).
    Ahead(u8),
}

#[derive(Debug, Clone, Copy)]
enum Instruction {
    Load(u32),
    And(u32),
    Jump(u16, u32, Target, Target),
}

/// One 64-bit argument comparison, done on its two 32-bit halves.
struct Condition {
    index: u32,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: u64,
}

impl Condition {
    fn from_arg(arg: &LinuxSeccompArg) -> Result<Self, RuntimeError> {
        if arg.index() > 5 {
            return Err(RuntimeError::InvalidSpec(format!(
                "seccomp argument index {} (system calls have 6)",
                arg.index()
            )));
        }
        Ok(Self {
            index: arg.index() as u32,
            op: arg.op(),
            value: arg.value(),
            value_two: arg.value_two().unwrap_or(0),
        })
    }

    fn instructions(&self) -> Vec<Instruction> {
        use Instruction::*;
        use LinuxSeccompOperator::*;
        use Target::*;
        let low = OFFSET_ARGS + 8 * self.index;
        let high = low + 4;
        let (hi, lo) = ((self.value >> 32) as u32, self.value as u32);
        match self.op {
            ScmpCmpEq => vec![
                Load(high),
                Jump(BPF_JEQ_K, hi, Next, Skip),
                Load(low),
                Jump(BPF_JEQ_K, lo, Next, Skip),
            ],
            // Holds when either half differs: a differing high half jumps past the low test.
            ScmpCmpNe => vec![
                Load(high),
                Jump(BPF_JEQ_K, hi, Next, Ahead(2)),
                Load(low),
                Jump(BPF_JEQ_K, lo, Skip, Next),
            ],
            ScmpCmpMaskedEq => {
                let (want_hi, want_lo) = ((self.value_two >> 32) as u32, self.value_two as u32);
                vec![
                    Load(high),
                    And(hi),
                    Jump(BPF_JEQ_K, want_hi, Next, Skip),
                    Load(low),
                    And(lo),
                    Jump(BPF_JEQ_K, want_lo, Next, Skip),
                ]
            }
            // Unsigned: decided by the high half unless equal, then by the low half.
            ScmpCmpGt | ScmpCmpGe => vec![
                Load(high),
                Jump(BPF_JGT_K, hi, Ahead(3), Next),
                Jump(BPF_JEQ_K, hi, Next, Skip),
                Load(low),
                Jump(
                    if self.op == ScmpCmpGt {
                        BPF_JGT_K
                    } else {
                        BPF_JGE_K
                    },
                    lo,
                    Next,
                    Skip,
                ),
            ],
            ScmpCmpLt | ScmpCmpLe => vec![
                Load(high),
                Jump(BPF_JGT_K, hi, Skip, Next),
                Jump(BPF_JEQ_K, hi, Next, Ahead(2)),
                Load(low),
                Jump(
                    if self.op == ScmpCmpLt {
                        BPF_JGE_K
                    } else {
                        BPF_JGT_K
                    },
                    lo,
                    Skip,
                    Next,
                ),
            ],
        }
    }
}

/// The `SECCOMP_RET_*` value for an OCI action.
fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<u32, RuntimeError> {
    use LinuxSeccompAction::*;
    let data = |value: u32| value & 0xffff;
    Ok(match action {
        ScmpActKill | ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        ScmpActTrap => libc::SECCOMP_RET_TRAP,
        ScmpActErrno => libc::SECCOMP_RET_ERRNO | data(errno.unwrap_or(libc::EPERM as u32)),
        ScmpActTrace => libc::SECCOMP_RET_TRACE | data(errno.unwrap_or(libc::EPERM as u32)),
        ScmpActLog => libc::SECCOMP_RET_LOG,
        ScmpActAllow => libc::SECCOMP_RET_ALLOW,
        ScmpActNotify => {
            return Err(RuntimeError::InvalidSpec(
                "seccomp SCMP_ACT_NOTIFY is not supported".into(),
            ))
        }
    })
}

/// What a call through a foreign ABI gets: the default if it denies, else a kill.
fn foreign_abi_action(default: u32) -> u32 {
    if default == libc::SECCOMP_RET_ALLOW || default == libc::SECCOMP_RET_LOG {
        libc::SECCOMP_RET_KILL_PROCESS
    } else {
        default
    }
}

fn to_u8(n: usize) -> Result<u8, RuntimeError> {
    u8::try_from(n).map_err(|_| {
        RuntimeError::InvalidSpec("seccomp rule has too many argument conditions".into())
    })
}

fn load(offset: u32) -> libc::sock_filter {
    stmt(BPF_LD_W_ABS, offset)
}

fn ret(value: u32) -> libc::sock_filter {
    stmt(BPF_RET_K, value)
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSeccompBuilder, LinuxSyscallBuilder};

    fn profile(default: LinuxSeccompAction, action: LinuxSeccompAction) -> LinuxSeccomp {
        let rule = LinuxSyscallBuilder::default()
            .names(vec!["getpid".to_string()])
            .action(action)
            .build()
            .expect("rule");
        LinuxSeccompBuilder::default()
            .default_action(default)
            .syscalls(vec![rule])
            .build()
            .expect("profile")
    }

    #[test]
    fn a_deny_list_kills_calls_through_foreign_abis() {
        let filter = SeccompFilter::compile(&profile(
            LinuxSeccompAction::ScmpActAllow,
            LinuxSeccompAction::ScmpActErrno,
        ))
        .expect("compiles");
        assert_eq!(filter.program[2].k, libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(filter.program[5].k, libc::SECCOMP_RET_KILL_PROCESS);
        // getpid (39 on x86_64) returns EPERM; everything else is allowed.
        assert_eq!(
            (filter.program[6].code, filter.program[6].k),
            (BPF_JEQ_K, 39)
        );
        assert_eq!(
            filter.program[7].k,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
        );
        assert_eq!(filter.program[8].k, libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn an_allow_list_denies_foreign_abis_like_everything_else() {
        let filter = SeccompFilter::compile(&profile(
            LinuxSeccompAction::ScmpActErrno,
            LinuxSeccompAction::ScmpActAllow,
        ))
        .expect("compiles");
        let deny = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        assert_eq!(filter.program[2].k, deny);
        assert_eq!(filter.program.last().map(|i| i.k), Some(deny));
    }

    #[test]
    fn notify_is_refused_before_forking() {
        let result = SeccompFilter::compile(&profile(
            LinuxSeccompAction::ScmpActAllow,
            LinuxSeccompAction::ScmpActNotify,
        ));
        assert!(matches!(result, Err(RuntimeError::InvalidSpec(_))));
    }
}
