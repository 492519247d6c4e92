// CPU accounting from /proc: utime + stime (fields 14 and 15 of /proc/PID/stat, in clock
// ticks of USER_HZ) of chosen processes, read before and after a measured window.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** {pid, comm, pgrp, ppid, ticks} of one process, or null when it is gone. */
export function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    // Fields after "(comm)": 3 state, 4 ppid, 5 pgrp, ..., 14 utime, 15 stime.
    const f = s.slice(close + 2).split(' ');
    return { pid, comm, ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/** Every process of the process group `pgid` (wrangler is started as a group leader). */
export function groupProcesses(pgid) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.pgrp === pgid) out.push(st);
  }
  return out;
}

/** The CPU seconds so far of the processes `select` picks in a group, by pid. */
export function groupTicks(pgid, select = () => true) {
  const byPid = {};
  for (const p of groupProcesses(pgid)) if (select(p)) byPid[p.pid] = p.ticks;
  return byPid;
}

/** Ticks summed over the pids seen in both samples (a process that appeared counts from 0). */
function delta(before, after) {
  let sum = 0;
  for (const [pid, t] of Object.entries(after)) sum += t - (before[pid] ?? 0);
  return sum;
}

export const isWorkerd = (p) => p.comm === 'workerd';
export const isNotWorkerd = (p) => p.comm !== 'workerd';

/**
 * Nanoseconds on CPU of every thread of the processes `select` picks, by thread id
 * (/proc/PID/task/TID/schedstat, first field): finer than clock ticks, for short windows. A
 * thread that ends between two samples takes its time with it.
 */
export function groupThreadNs(pgid, select = () => true) {
  const byTid = {};
  for (const p of groupProcesses(pgid)) {
    if (!select(p)) continue;
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${p.pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        byTid[tid] = Number(fs.readFileSync(`/proc/${p.pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {}
    }
  }
  return byTid;
}

/**
 * A meter over a wrangler process group: workerd processes (the runtime that runs the worker,
 * its local KV, queues and the dev proxy) and the rest (wrangler's node process, log output).
 * `mark()` returns a sample; `between(a, b)` the CPU seconds (utime + stime from
 * /proc/PID/stat, and from the threads' schedstat) and wall seconds between two.
 */
export function groupMeter(pgid) {
  const mark = () => ({
    t: process.hrtime.bigint(),
    workerd: groupTicks(pgid, isWorkerd),
    workerdNs: groupThreadNs(pgid, isWorkerd),
    other: groupTicks(pgid, isNotWorkerd),
  });
  const between = (a, b) => ({
    wallS: Number(b.t - a.t) / 1e9,
    workerdS: delta(a.workerd, b.workerd) / CLK_TCK,
    workerdNsS: delta(a.workerdNs, b.workerdNs) / 1e9,
    otherS: delta(a.other, b.other) / CLK_TCK,
  });
  return { mark, between };
}

/** CPU seconds the whole machine spent busy so far (all CPUs, from /proc/stat). */
export function machineBusySeconds() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0);
  return busy / CLK_TCK;
}
