//! The eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`) that decides device access on cgroup
//! v2, assembled from an [`Emulator`]'s state.
//!
//! The kernel calls it for every `mknod` and device open in the cgroup with a
//! `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` in r1, where
//! `access_type` is `(access << 16) | type`; the program returns 1 to allow, 0 to deny.
//! Shape (as runc's and crun's): load the four fields into r2–r5, then one block per
//! exception that returns the opposite of the default when the exception matches — with the
//! kernel's v1 meaning of "matches" ([`Emulator::allows`]) — and finally the default.
//!
//! ```text
//!     r2 = *(u32 *)(r1 + 0); w2 &= 0xffff      type
//!     r3 = *(u32 *)(r1 + 0); w3 >>= 16         access
//!     r4 = *(u32 *)(r1 + 4)                    major
//!     r5 = *(u32 *)(r1 + 8)                    minor
//! block (per exception; every test jumps to the next block when it fails):
//!     if w2 != TYPE goto next
//!     w1 = w3; w1 &= ACCESS; if w1 != w3 goto next     deny default: all bits covered
//!     w1 = w3; w1 &= ACCESS; if w1 == 0 goto next      allow default: any bit covered
//!     if w4 != MAJOR goto next                         (unless the wildcard)
//!     if w5 != MINOR goto next                         (unless the wildcard)
//!     w0 = !DEFAULT; exit
//! end:
//!     w0 = DEFAULT; exit
//! ```
//!
//! Comparisons are 32-bit (`BPF_JMP32`, Linux 5.1+; cgroup v2's freezer needs 5.2 anyway),
//! so every device number compares exactly.

use super::emulator::{Emulator, Exception};
use super::{Access, DeviceKind};

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The kernel's 8-byte encoding (registers in one byte: dst low nibble, src high).
    pub fn encode(&self) -> [u8; 8] {
        let mut bytes = [0u8; 8];
        bytes[0] = self.code;
        bytes[1] = (self.dst & 0x0f) | (self.src << 4);
        bytes[2..4].copy_from_slice(&self.off.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.imm.to_le_bytes());
        bytes
    }
}

// Opcodes (linux/bpf.h, linux/bpf_common.h): class | operation | source.
pub const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
pub const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
pub const ALU32_MOV_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
pub const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
pub const JMP32_JNE_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
pub const JMP32_JNE_X: u8 = 0x5e; // BPF_JMP32 | BPF_JNE | BPF_X
pub const JMP32_JEQ_K: u8 = 0x16; // BPF_JMP32 | BPF_JEQ | BPF_K
pub const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// The device types in `access_type` (BPF_DEVCG_DEV_*).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// The program deciding exactly as `emulator` does.
pub fn compile(emulator: &Emulator) -> Vec<Insn> {
    let mut program = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for exception in emulator.exceptions() {
        program.extend(block(exception, emulator.default_allow()));
    }
    program.push(insn(
        ALU32_MOV_K,
        0,
        0,
        0,
        i32::from(emulator.default_allow()),
    ));
    program.push(insn(JMP_EXIT, 0, 0, 0, 0));
    program
}

/// The program as the bytes `BPF_PROG_LOAD` takes.
pub fn encode(program: &[Insn]) -> Vec<u8> {
    program.iter().flat_map(Insn::encode).collect()
}

/// The block of one exception. Its tests are written with `NEXT` as their jump offset and
/// patched once the block's length is known.
fn block(exception: &Exception, default_allow: bool) -> Vec<Insn> {
    const NEXT: i16 = i16::MIN;
    let typ = match exception.kind {
        DeviceKind::Block => DEV_BLOCK,
        // The emulator keeps no `a` exceptions: `a` only ever sets the default.
        DeviceKind::Char | DeviceKind::All => DEV_CHAR,
    };
    let access = i32::from(exception.access.bits());
    let mut insns = vec![insn(JMP32_JNE_K, 2, 0, NEXT, typ)];
    if default_allow {
        insns.extend([
            insn(ALU32_MOV_X, 1, 3, 0, 0),
            insn(ALU32_AND_K, 1, 0, 0, access),
            insn(JMP32_JEQ_K, 1, 0, NEXT, 0),
        ]);
    } else if exception.access != Access::ALL {
        insns.extend([
            insn(ALU32_MOV_X, 1, 3, 0, 0),
            insn(ALU32_AND_K, 1, 0, 0, access),
            insn(JMP32_JNE_X, 1, 3, NEXT, 0),
        ]);
    }
    // The immediates are compared as 32-bit values, so the cast keeps every bit.
    if let Some(major) = exception.major {
        insns.push(insn(JMP32_JNE_K, 4, 0, NEXT, major as i32));
    }
    if let Some(minor) = exception.minor {
        insns.push(insn(JMP32_JNE_K, 5, 0, NEXT, minor as i32));
    }
    insns.push(insn(ALU32_MOV_K, 0, 0, 0, i32::from(!default_allow)));
    insns.push(insn(JMP_EXIT, 0, 0, 0, 0));
    let len = insns.len();
    for (i, insn) in insns.iter_mut().enumerate() {
        if insn.off == NEXT {
            // Relative to the instruction after the jump; the next block starts at `len`.
            insn.off = (len - i - 1) as i16;
        }
    }
    insns
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

#[cfg(test)]
pub(crate) mod interpreter {
    //! Runs a device program on one access, for the opcodes [`compile`](super::compile)
    //! emits (anything else is a test failure), with the kernel's register semantics:
    //! 32-bit ALU results zero-extend, 32-bit jumps compare the low halves.

    use super::*;

    pub fn run(program: &[Insn], access_type: u32, major: u32, minor: u32) -> u32 {
        let ctx = [access_type, major, minor];
        let mut regs = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = program.get(pc).copied().expect("pc inside the program");
            let (dst, src) = (usize::from(i.dst), usize::from(i.src));
            let low = |r: u64| r as u32;
            let mut jump = |taken: bool| {
                if taken {
                    pc = (pc as i64 + i64::from(i.off)) as usize;
                }
            };
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from the context");
                    regs[dst] = u64::from(ctx[usize::try_from(i.off).expect("offset") / 4]);
                }
                ALU32_AND_K => regs[dst] = u64::from(low(regs[dst]) & i.imm as u32),
                ALU32_RSH_K => regs[dst] = u64::from(low(regs[dst]) >> i.imm),
                ALU32_MOV_K => regs[dst] = u64::from(i.imm as u32),
                ALU32_MOV_X => regs[dst] = u64::from(low(regs[src])),
                JMP32_JNE_K => jump(low(regs[dst]) != i.imm as u32),
                JMP32_JNE_X => jump(low(regs[dst]) != low(regs[src])),
                JMP32_JEQ_K => jump(low(regs[dst]) == i.imm as u32),
                JMP_EXIT => return low(regs[0]),
                other => panic!("opcode {other:#x} is not one the compiler emits"),
            }
            pc += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{container_rules, DeviceRule};
    use super::*;

    /// Every decision of the program equals the emulator's, over device numbers that the
    /// rules name, their neighbours, wildcards' territory and extremes.
    fn assert_program_decides_as_the_emulator(rules: &[DeviceRule]) {
        let emulator = Emulator::from_rules(rules);
        let program = compile(&emulator);
        let mut numbers = vec![
            0u32,
            1,
            2,
            3,
            5,
            7,
            8,
            9,
            10,
            136,
            200,
            254,
            4095,
            1 << 20,
            u32::MAX,
        ];
        for rule in rules {
            for n in [rule.major, rule.minor].into_iter().flatten() {
                numbers.extend([n.wrapping_sub(1), n, n.wrapping_add(1)]);
            }
        }
        for (kind, typ) in [(DeviceKind::Block, 1u32), (DeviceKind::Char, 2)] {
            for access in 0..=7u8 {
                for &major in &numbers {
                    for &minor in &numbers {
                        let want = emulator.allows(kind, major, minor, Access::from_bits(access));
                        let got = interpreter::run(
                            &program,
                            (u32::from(access) << 16) | typ,
                            major,
                            minor,
                        );
                        assert_eq!(
                            got,
                            u32::from(want),
                            "{kind:?} {major}:{minor} access {access} with {rules:?}"
                        );
                    }
                }
            }
        }
    }

    fn rule(
        allow: bool,
        kind: DeviceKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: Access::parse(access).expect("access"),
        }
    }

    #[test]
    fn the_default_container_program_decides_as_the_emulator() {
        assert_program_decides_as_the_emulator(&container_rules(None).expect("rules"));
    }

    #[test]
    fn allow_lists_deny_lists_and_partial_accesses_decide_as_the_emulator() {
        use DeviceKind::{All, Block as B, Char as C};
        let cases: Vec<Vec<DeviceRule>> = vec![
            vec![],
            vec![rule(false, All, None, None, "rwm")],
            vec![
                rule(true, All, None, None, "rwm"),
                rule(false, B, Some(8), None, "w"),
                rule(false, C, None, Some(7), "rm"),
                rule(false, C, Some(u32::MAX), Some(0x8000_0000), "r"),
            ],
            vec![
                rule(false, All, None, None, "rwm"),
                rule(true, C, Some(1), Some(3), "r"),
                rule(true, C, Some(1), Some(3), "w"),
                rule(true, B, None, None, "m"),
                rule(true, C, Some(4), None, "rwm"),
                rule(false, C, Some(4), None, "m"),
                rule(true, C, Some(0x7fff_ffff), Some(u32::MAX), "rw"),
            ],
        ];
        for rules in cases {
            assert_program_decides_as_the_emulator(&rules);
        }
    }

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        // r4 = *(u32 *)(r1 + 4): code 0x61, dst 4 and src 1 in one byte, offset 4.
        assert_eq!(
            insn(LDX_MEM_W, 4, 1, 4, 0).encode(),
            [0x61, 0x14, 4, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            insn(JMP32_JNE_K, 5, 0, -2, -1).encode(),
            [0x56, 0x05, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }
}
