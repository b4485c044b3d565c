/**
 * A private RabbitMQ node for specs, the bench and local trials: its own temp dir, its own loopback
 * ports (AMQP, Erlang distribution, EPMD), nothing shared with a system RabbitMQ or another private
 * node, and nothing left running after stop().
 *
 *   node dist/examples/broker/private-node.js      starts one, prints its url, stops on Ctrl-C
 *
 * Needs Debian's rabbitmq-server package (the service itself need not run).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl'
const EPMD = '/usr/bin/epmd'
/**
 * `sh -c WATCHDOG sh <our pid> <dir or ''> <command> <args...>`: runs the command, and once we are gone
 * ends its group (TERM, then KILL 2 s later) and removes the dir, if one was given.
 */
const WATCHDOG =
  'parent=$1; dir=$2; shift 2; (while kill -0 "$parent" 2>/dev/null; do sleep 1; done; trap "" TERM; kill -TERM 0; sleep 2; [ -z "$dir" ] || rm -rf "$dir"; kill -KILL 0) & exec "$@"'
const BOOT_TIMEOUT = 60_000
const STOP_GRACE = 5_000

export interface PrivateNode {
  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may log in over loopback only, which is all we use). */
  url: string
  port: number
  /** Stops the node and removes its dir (unless the dir was given to startPrivateNode). */
  stop(): Promise<void>
  /** kill() then start(): the same url, the same data. */
  restart(): Promise<void>
  /**
   * Stops the node but keeps its ports and data dir, for start() later: the broker going away under
   * live connections. `hard`: SIGKILL at once (sockets reset, no connection.close from the broker).
   */
  kill(options?: { hard?: boolean }): Promise<void>
  /** Starts it again after kill(), at the same url; resolves once the AMQP port accepts connections. */
  start(): Promise<void>
  /** Runs `rabbitmqctl <args>` against this node (about a second: it boots an Erlang VM); resolves with its output. */
  ctl(...args: string[]): Promise<string>
}

export function rabbitmqInstalled(): boolean {
  return existsSync(SERVER) && existsSync(EPMD)
}

/** A port nobody listens on right now (the kernel's pick); a race with other processes is possible but rare. */
async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/** Signals a whole process group (spawned detached, so the child leads its own); gone is fine. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/** The processes of `/proc` as pid, state, parent and group. */
function processes(): { pid: number; state: string; ppid: number; pgrp: number }[] {
  const list = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so read after the last ')'.
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      list.push({ pid: Number(name), state: state!, ppid: Number(ppid), pgrp: Number(pgrp) })
    } catch {
      // gone meanwhile
    }
  }
  return list
}

/** True while a process of the group runs; zombies (dead, left for init to reap) do not count. */
function groupAlive(pgid: number): boolean {
  return processes().some((p) => p.pgrp === pgid && p.state !== 'Z')
}

/** Every process below `root`, so that helpers that left our group are found too. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const p of processes()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid])
  const found: number[] = []
  for (let queue = [root]; queue.length > 0; ) {
    const next = children.get(queue.pop()!) ?? []
    found.push(...next)
    queue.push(...next)
  }
  return found
}

/**
 * Ends a detached child and everything in its process group: SIGTERM (the Erlang VM shuts RabbitMQ
 * down cleanly on it), SIGKILL after the grace period, then SIGKILL for any straggler of the group
 * or below the child (erl_child_setup makes a session of its own). Resolves once the child has exited.
 */
async function endGroup(child: ChildProcess, hard: boolean): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  const helpers = descendants(pid)
  // An unref'd child does not keep the loop alive: hold it while we wait for its exit.
  child.ref()
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit')
    signalGroup(pid, hard ? 'SIGKILL' : 'SIGTERM')
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        signalGroup(pid, 'SIGKILL')
        resolve()
      }, STOP_GRACE)
    })
    await Promise.race([exited, late])
    clearTimeout(timer)
    await exited
  }
  signalGroup(pid, 'SIGKILL')
  for (const helper of helpers) {
    try {
      process.kill(helper, 'SIGKILL')
    } catch {
      // already gone, as it should be
    }
  }
  for (let i = 0; i < 50 && groupAlive(pid); i++) await sleep(20)
}

export async function startPrivateNode(options: { dir?: string } = {}): Promise<PrivateNode> {
  if (!rabbitmqInstalled()) throw new Error(`RabbitMQ is not installed (${SERVER}); Debian/Ubuntu: apt-get install rabbitmq-server`)
  const ownDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(os.tmpdir(), 'treerpc-rabbit-'))
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n')
  writeFileSync(join(dir, 'rabbitmq.conf'), '')
  const output = join(dir, 'server.out')
  const port = await freePort()
  const distPort = await freePort()
  const epmdPort = await freePort()
  const nodename = `treerpc-${randomBytes(4).toString('hex')}@localhost`
  const env = {
    ...process.env,
    // The Erlang cookie is written to $HOME: keep it in our dir, away from the real home.
    HOME: dir,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  }

  let server: ChildProcess | undefined
  let epmd: ChildProcess | undefined
  let stopped = false

  // Last resort if this process exits without stop() (an uncaught error, process.exit): no orphans,
  // no dir left behind (the SIGKILL takes the watchdogs too, before they could remove it).
  const onExit = (): void => {
    signalGroup(server?.pid, 'SIGKILL')
    signalGroup(epmd?.pid, 'SIGKILL')
    if (ownDir) rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', onExit)

  const launch = (command: string, args: string[], cleanup = ''): ChildProcess => {
    const fd = openSync(output, 'a')
    try {
      // detached: a process group of its own, so stop can end the VM and its helpers at once. Output
      // goes to a file (no pipes to drain or to keep our loop alive), read back for error messages.
      // The watchdog beside it ends the group if this process dies without stop() (SIGKILL, or Ctrl-C,
      // which the VM ignores), so a crashed run leaves no node behind.
      const child = spawn('/bin/sh', ['-c', WATCHDOG, 'sh', String(process.pid), cleanup, command, ...args], { env, detached: true, stdio: ['ignore', fd, fd] })
      child.unref()
      child.on('error', () => {}) // a spawn failure shows as an exit before the port opens
      return child
    } finally {
      closeSync(fd)
    }
  }

  const waitFor = async (target: number, child: ChildProcess, what: string): Promise<void> => {
    const deadline = Date.now() + BOOT_TIMEOUT
    while (!(await accepts(target))) {
      const exited = child.exitCode !== null || child.signalCode !== null
      if (exited || Date.now() > deadline) {
        const log = existsSync(join(dir, 'log')) ? readdirSync(join(dir, 'log')).filter((f) => f.endsWith('.log')) : []
        const logTail = log.map((f) => tail(join(dir, 'log', f), 15)).join('\n')
        throw new Error(
          `${what} ${exited ? `exited (${child.exitCode ?? child.signalCode})` : `did not accept connections on port ${target} within ${BOOT_TIMEOUT / 1000} s`}` +
            `; its output:\n${tail(output)}${logTail ? `\nlog:\n${logTail}` : ''}`,
        )
      }
      await sleep(100)
    }
  }

  const halt = async (hard = false): Promise<void> => {
    // The VM first (it deregisters from epmd as it goes), then our epmd.
    if (server !== undefined) await endGroup(server, hard)
    if (epmd !== undefined) await endGroup(epmd, hard)
    server = undefined
    epmd = undefined
  }

  const boot = async (): Promise<void> => {
    if (stopped) throw new Error('this private RabbitMQ node was stopped')
    if (server !== undefined) return
    try {
      // Our own epmd, started before the VM: the VM then uses it instead of daemonizing one (a daemon
      // leaves our process group and would outlive stop()).
      epmd = launch(EPMD, ['-port', String(epmdPort), '-address', '127.0.0.1'])
      await waitFor(epmdPort, epmd, 'epmd')
      server = launch(SERVER, [], ownDir ? dir : '')
      await waitFor(port, server, 'rabbitmq-server')
    } catch (error) {
      await halt(true)
      throw error
    }
  }

  const node: PrivateNode = {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    port,
    async stop() {
      if (stopped) return
      stopped = true
      try {
        await halt()
      } finally {
        process.off('exit', onExit)
        if (ownDir) rmSync(dir, { recursive: true, force: true })
      }
    },
    kill: (opts) => halt(opts?.hard === true),
    ctl: (...args) =>
      new Promise((resolve, reject) => {
        execFile(CTL, ['-q', ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => (error ? reject(new Error(`rabbitmqctl ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)))
      }),
    start: boot,
    async restart() {
      await halt()
      await boot()
    },
  }
  try {
    await boot()
  } catch (error) {
    await node.stop()
    throw error
  }
  return node
}

// ---- CLI ----------------------------------------------------------------------------------------

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const node = await startPrivateNode()
  console.log(node.url)
  console.log('Ctrl-C stops it')
  // The node itself keeps nothing alive: hold the loop until Ctrl-C.
  const hold = setInterval(() => {}, 1 << 30)
  const shutdown = (): void => {
    clearInterval(hold)
    node.stop().then(
      () => console.log('stopped'),
      (error: unknown) => {
        console.error(error)
        process.exitCode = 1
      },
    )
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
}
