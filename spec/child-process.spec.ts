/**
 * Integration specs over real child processes (child_process.fork through spawnChild), with both
 * IPC serializations. Fixtures live in spec/fixtures/. Every test ends with its children gone: the
 * afterEach kills whatever is still running, and the root hook fails the run on leftover handles.
 */
import { expect } from 'chai'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ChannelClosedError, type ChildHandle, connectParent, RemoteError, RpcError, spawnChild, type SpawnChildOptions } from '../lib/index.js'
import { deferred, rejection, tick } from './helpers.js'

const fixture = (name: string): URL => new URL(`./fixtures/${name}.js`, import.meta.url)

/** What the parent exposes to its children (the echo fixture calls `math.double` and `fail`). */
const parentApi = {
  math: { double: (n: number) => n * 2 },
  fail: () => {
    throw Object.assign(new RangeError('parent says no'), { code: 'E_PARENT', limit: 9 })
  },
}

/** A string whose every position matters, so a truncated or reordered copy cannot compare equal. */
function patterned(length: number, seed = 0): string {
  let unit = ''
  for (let i = 0; i < 4096; i++) unit += String.fromCharCode(33 + ((i * 7 + seed) % 90))
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length - 8) + String(seed).padStart(8, '0')
}

/**
 * Runs `run` with this process's stderr captured instead of printed (a failing child's stderr is
 * forwarded there), and returns its result with what was written.
 */
async function capturingStderr<T>(run: () => Promise<T>): Promise<{ result: T; stderr: string }> {
  const write = process.stderr.write
  let stderr = ''
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    return true
  }) as typeof process.stderr.write
  try {
    return { result: await run(), stderr }
  } finally {
    process.stderr.write = write
  }
}

const pipes = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'PipeWrap').length

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
  // A zombie has exited already; it only waits for its (new) parent to reap it.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return process.platform !== 'linux'
  }
}

describe('child processes (spawnChild)', () => {
  let handles: ChildHandle<any>[] = []

  afterEach(async () => {
    const running = handles
    handles = []
    await Promise.all(running.map((handle) => handle.kill('SIGKILL')))
  })

  for (const serialization of ['json', 'advanced'] as const) {
    describe(`with serialization: '${serialization}'`, () => {
      function start(name: string, options: SpawnChildOptions = {}): ChildHandle<any> {
        const handle = spawnChild<any>(fixture(name), { serialization, ...options })
        handles.push(handle)
        return handle
      }

      it('calls nested methods both ways: the child calls back into the parent during a call', async () => {
        const child = start('echo', { expose: parentApi })
        expect(await child.remote.echo('hi')).to.equal('hi')
        expect(await child.remote.deep.a.b.viaParent(20)).to.equal(41)
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => child.remote.deep.a.b.viaParent(i)))
        expect(results).to.deep.equal(Array.from({ length: 50 }, (_, i) => 2 * i + 1))
        expect(child.peer.stats.pending).to.equal(0)
      })

      it('carries events both ways, in send order', async () => {
        const child = start('echo')
        await child.ready
        const pongs: unknown[][] = []
        const all = deferred()
        child.peer.on('pong', (...args: unknown[]) => {
          pongs.push(args)
          if (pongs.length === 100) all.resolve()
        })
        for (let i = 0; i < 100; i++) child.peer.emit('ping', i, { label: `n${i}` })
        await all.promise
        expect(pongs).to.deep.equal(Array.from({ length: 100 }, (_, i) => [i, { label: `n${i}` }]))
        expect(child.peer.stats.pending).to.equal(0)
      })

      it('round-trips errors both ways as RemoteError with name, code and custom fields', async () => {
        const child = start('echo', { expose: parentApi })
        const error = await rejection(child.remote.fail())
        expect(error).to.be.instanceOf(RemoteError)
        expect(error).to.be.instanceOf(RpcError)
        expect(error.name).to.equal('QuotaError')
        expect(error.remoteName).to.equal('QuotaError')
        expect(error.code).to.equal('E_QUOTA')
        expect(error.message).to.equal('quota exceeded')
        expect(error.limit).to.equal(3)
        expect(await child.remote.parentError()).to.deep.equal({
          remote: true,
          name: 'RangeError',
          code: 'E_PARENT',
          message: 'parent says no',
          limit: 9,
        })
      })

      it(`carries Map, Date and Uint8Array as themselves both ways${serialization === 'json' ? ' (JSON too: the value encoding)' : ''}`, async () => {
        const child = start('echo')
        const date = new Date('2024-02-29T12:34:56.789Z')
        const value = { map: new Map<string, unknown>([['a', 1], ['b', [2]]]), date, bytes: Uint8Array.of(1, 2, 255) }
        const back = await child.remote.echo(value)
        expect(back.map).to.be.instanceOf(Map)
        expect([...back.map]).to.deep.equal([['a', 1], ['b', [2]]])
        expect(back.date).to.be.instanceOf(Date)
        expect(back.date.getTime()).to.equal(date.getTime())
        expect(back.bytes).to.be.instanceOf(Uint8Array)
        expect([...back.bytes]).to.deep.equal([1, 2, 255])
        expect(await child.remote.describe(new Map())).to.deep.equal({ kind: 'Map', bytes: null })
        expect(await child.remote.describe(date)).to.deep.equal({ kind: 'Date', bytes: null })
        expect(await child.remote.describe(Uint8Array.of(7, 8))).to.deep.equal({ kind: 'Uint8Array', bytes: [7, 8] })
      })

      it('resolves a call whose handler returns undefined with undefined (JSON included)', async () => {
        const child = start('echo')
        const value = await child.remote.nothing()
        expect(value).to.equal(undefined)
        expect(child.peer.stats.pending).to.equal(0)
      })

      it('carries an 8 MiB string whole, both ways', async () => {
        const child = start('echo')
        const big = patterned(8 * 1024 * 1024, 42)
        const back: string = await child.remote.echo(big)
        expect(back.length).to.equal(big.length)
        expect(back === big, 'the string came back changed').to.equal(true)
      })

      it('settles 2,000 concurrent calls carrying 64 KB each, each with its own result (back-pressure)', async () => {
        const child = start('echo')
        await child.ready
        const payloads = Array.from({ length: 2_000 }, (_, i) => patterned(64 * 1024, i))
        const results = await Promise.all(payloads.map((payload, i) => child.remote.tag(i, payload)))
        const wrong = results.filter((result, i) => result.i !== i || result.payload !== payloads[i]).length
        expect(wrong, 'calls with a wrong result').to.equal(0)
        expect(child.peer.stats.pending).to.equal(0)
        expect(child.peer.stats.dropped).to.equal(0)
      })

      it('fails, with RPC_UNSENDABLE, a call whose arguments cannot be serialized while it waits behind back-pressure', async () => {
        const child = start('echo', { timeout: 0 })
        await child.ready
        // Enough 64 KB calls to fill Node's IPC backlog, so that later messages wait in the transport.
        const filler = Array.from({ length: 300 }, (_, i) => child.remote.tag(i, patterned(64 * 1024, i)))
        // A value that passes treerpc's own check but fails Node's serializer later, when the held
        // message is finally written: a getter that throws on its second read.
        let reads = 0
        const sneaky = { get x() { if (++reads > 1) throw new Error('second read'); return 1 } }
        const bad = child.peer.call('echo', [sneaky])
        const after = child.remote.echo('after')
        const error = await rejection(bad)
        expect(error.code).to.equal('RPC_UNSENDABLE')
        expect(await after).to.equal('after')
        expect((await Promise.all(filler)).length).to.equal(300)
      })

      it('rejects every pending call at once with ChannelClosedError when the child is SIGKILLed mid-call', async () => {
        const child = start('echo', { timeout: 0 })
        const calls = Array.from({ length: 5 }, () => child.peer.call('hang'))
        // A reply after them proves the child received them all and is running their handlers.
        expect(await child.remote.echo('sync')).to.equal('sync')
        const errors = Promise.all(calls.map(rejection))
        void child.kill('SIGKILL')
        expect(await child.exited).to.deep.equal({ code: null, signal: 'SIGKILL' })
        await tick()
        expect(calls.map((call) => call.state)).to.deep.equal(Array(5).fill('rejected'))
        for (const error of await errors) {
          expect(error).to.be.instanceOf(ChannelClosedError)
          expect(error.code).to.equal('RPC_CHANNEL_CLOSED')
          expect(error.signal).to.equal('SIGKILL')
          expect(error.exitCode).to.equal(null)
          expect(error.message).to.contain('SIGKILL')
        }
        expect(child.peer.stats.pending).to.equal(0)
        expect(child.peer.state).to.equal('closed')
      })

      it('rejects pending calls with exitCode 7 when a handler calls process.exit(7)', async () => {
        const child = start('crashy', { timeout: 0 })
        await child.ready
        const hanging = child.peer.call('hang')
        const exiting = child.peer.call('exit', [7])
        const [first, second] = await Promise.all([rejection(hanging), rejection(exiting)])
        for (const error of [first, second]) {
          expect(error).to.be.instanceOf(ChannelClosedError)
          expect(error.exitCode).to.equal(7)
          expect(error.signal).to.equal(null)
          expect(error.message).to.contain('exit code 7')
        }
        expect(await child.exited).to.deep.equal({ code: 7, signal: null })
      })

      it('resolves exited with { code, signal }; kill() resolves with the same once the child is gone', async () => {
        const child = start('echo')
        await child.ready
        const killing = child.kill()
        expect(killing, 'kill() returns exited').to.equal(child.exited)
        const killed = await killing
        expect(killed).to.deep.equal({ code: null, signal: 'SIGKILL' })
        expect(await child.exited).to.deep.equal(killed)
        expect(await child.kill('SIGTERM'), 'kill() after exit').to.deep.equal(killed)
        expect(child.process.exitCode).to.equal(null)
        expect(child.process.signalCode).to.equal('SIGKILL')
      })

      it('close() rejects pending calls, lets the child exit by itself with code 0, and is idempotent', async () => {
        const child = start('echo', { timeout: 0 })
        await child.ready
        const calls = [child.peer.call('hang'), child.peer.call('hang')]
        expect(await child.remote.echo(1)).to.equal(1)
        const closing = child.close()
        expect(child.close(), 'a second close()').to.equal(closing)
        for (const error of await Promise.all(calls.map(rejection))) expect(error).to.be.instanceOf(ChannelClosedError)
        const result = await closing
        expect(result).to.deep.equal({ code: 0, signal: null })
        expect(await child.exited).to.deep.equal(result)
        expect(child.close(), 'close() after exit').to.equal(closing)
        expect(await child.close()).to.deep.equal(result)
        expect(child.peer.stats.pending).to.equal(0)
      })

      it('close() kills a child that ignores it once closeTimeout elapses, and exited reports the signal', async () => {
        const child = start('stubborn', { timeout: 0, closeTimeout: 300 })
        await child.ready
        const hanging = child.peer.call('hang')
        const closing = child.close()
        expect(await rejection(hanging)).to.be.instanceOf(ChannelClosedError)
        expect(await closing).to.deep.equal({ code: null, signal: 'SIGKILL' })
        expect(await child.exited).to.deep.equal({ code: null, signal: 'SIGKILL' })
      })

      it("the child's own peer.close() makes it exit by itself with code 0 and rejects the parent's pending calls", async () => {
        const child = start('leaver', { timeout: 0 })
        await child.ready
        const hanging = child.peer.call('hang')
        expect(await child.remote.leave()).to.equal('leaving')
        const error = await rejection(hanging)
        expect(error).to.be.instanceOf(ChannelClosedError)
        expect(await child.exited).to.deep.equal({ code: 0, signal: null })
        expect(child.peer.state).to.equal('closed')
        expect(child.peer.stats.pending).to.equal(0)
      })

      it("leaves the application's own messages on the IPC channel to its listeners: never answered, never counted", async () => {
        const child = start('app-channel')
        const appMessages: unknown[] = []
        const echoed = deferred()
        const hello = deferred()
        child.process.on('message', (message: any) => {
          if (message !== null && typeof message === 'object' && 'jsonrpc' in message) return
          appMessages.push(message)
          if (message?.hello === 'app') hello.resolve()
          if (message?.appEcho === 'one') echoed.resolve()
        })
        await child.ready
        // After one reply, every handshake message has arrived: count from here.
        await child.remote.appMessages()
        await hello.promise
        const before = child.peer.stats
        child.process.send({ app: 'one' })
        child.process.send(['not', 'json-rpc'])
        child.process.send('plain string')
        await echoed.promise
        expect(await child.remote.appMessages()).to.deep.equal([{ app: 'one' }, ['not', 'json-rpc'], 'plain string'])
        const after = child.peer.stats
        expect(after.received, 'messages counted by the parent peer').to.equal(before.received + 1)
        expect(after.dropped).to.equal(0)
        expect(appMessages).to.deep.equal([{ hello: 'app' }, { appEcho: 'one' }])
        const statsCall = child.remote.stats()
        const sentByParent = child.peer.stats.sent
        const childStats = await statsCall
        expect(childStats.dropped, 'messages the child peer dropped').to.equal(0)
        expect(childStats.received, 'messages counted by the child peer').to.equal(sentByParent)
      })

      it('rejects calls made after the child died immediately with ChannelClosedError', async () => {
        const child = start('echo')
        await child.ready
        await child.kill()
        const call = child.peer.call('echo', [1])
        expect(call.state).to.equal('rejected')
        expect(await rejection(call)).to.be.instanceOf(ChannelClosedError)
        expect(await rejection(child.remote.echo(2))).to.be.instanceOf(ChannelClosedError)
        expect(() => child.peer.emit('ping', 1)).to.throw(ChannelClosedError)
        expect(() => child.peer.notify('echo', 1)).to.throw(ChannelClosedError)
        expect(child.peer.stats.pending).to.equal(0)
      })

      it('leaves no orphan: a grandchild exits by itself once its parent is SIGKILLed', async () => {
        const middle = start('middle')
        const pid: number = await middle.remote.grandchildPid()
        expect(pid).to.be.a('number')
        try {
          expect(isAlive(pid)).to.equal(true)
          await middle.kill('SIGKILL')
          let alive = true
          for (let i = 0; i < 100 && alive; i++) {
            await new Promise((resolve) => setTimeout(resolve, 50))
            alive = isAlive(pid)
          }
          expect(alive, 'the grandchild outlived its parent').to.equal(false)
        } finally {
          if (isAlive(pid)) process.kill(pid, 'SIGKILL')
        }
      })
    })
  }

  describe('modulePath: a file URL (URL object or file: string), else a path against process.cwd()', () => {
    const url = fixture('echo')
    const absolute = fileURLToPath(url)
    const forms: [string, string | URL][] = [
      ['a URL object', url],
      ["a 'file:///...' string", url.href],
      ['an absolute path', absolute],
      [`a path relative to the cwd, without ./ (${relative(process.cwd(), absolute)})`, relative(process.cwd(), absolute)],
    ]
    for (const [title, modulePath] of forms) {
      it(`starts the child from ${title}`, async () => {
        const child = spawnChild<any>(modulePath)
        handles.push(child)
        expect(await child.remote.echo('hi')).to.equal('hi')
      })
    }

    it('resolves a relative path against process.cwd(), not against options.cwd', async () => {
      const child = spawnChild<any>(relative(process.cwd(), absolute), { cwd: tmpdir() })
      handles.push(child)
      expect(await child.remote.echo('hi')).to.equal('hi')
    })
  })

  describe('start-up failures: ready (and every call held for the handshake) says why', () => {
    it('rejects with ENOENT and the path, as ChannelClosedError, when the module does not exist', async () => {
      const missing = fixture('no-such-fixture')
      const child = spawnChild<any>(missing)
      handles.push(child)
      const held = rejection(child.remote.echo(1))
      const { result: error } = await capturingStderr(() => rejection(child.ready))
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.message).to.contain('ENOENT').and.contain(fileURLToPath(missing))
      expect(error.cause.code).to.equal('ENOENT')
      expect(error.exitCode).to.equal(1)
      expect((await held).message).to.equal(error.message)
      expect(await child.exited).to.deep.equal({ code: 1, signal: null })
    })

    it("puts the end of the child's stderr in the error when it throws at start-up, and still forwards that stderr as it comes", async () => {
      const child = spawnChild<any>(fixture('throws-at-start'))
      handles.push(child)
      const held = rejection(child.remote.port())
      const { result: error, stderr } = await capturingStderr(() => rejection(child.ready))
      expect(error).to.be.instanceOf(ChannelClosedError)
      expect(error.message).to.contain('before connecting').and.contain(fileURLToPath(fixture('throws-at-start')))
      expect(error.message).to.contain('Error: throws-at-start: no port configured (E_FIXTURE_START)')
      expect(error.message, "Node's own frames are left out").not.to.contain('node:internal')
      expect(error.exitCode).to.equal(1)
      expect((await held).message).to.equal(error.message)
      expect(stderr, 'forwarded to this process').to.contain('Error: throws-at-start: no port configured (E_FIXTURE_START)')
    })

    it('leaves stdio alone when the caller sets it: no stderr in the error, the code still is', async () => {
      const child = spawnChild<any>(fixture('throws-at-start'), { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
      handles.push(child)
      const error = await rejection(child.ready)
      expect(child.process.stderr).to.equal(null)
      expect(error.message).to.contain('before connecting').and.not.contain('E_FIXTURE_START')
      expect(error.exitCode).to.equal(1)
    })

    it('never lets the stderr pipe keep this process alive once the child has exited, even held open by a grandchild', async () => {
      const before = pipes()
      const child = spawnChild<any>(fixture('orphan-stderr'))
      handles.push(child)
      const { result: error } = await capturingStderr(() => rejection(child.ready))
      const pid = Number(/grandchild pid (\d+)/.exec(error.message)?.[1])
      expect(pid, error.message).to.be.above(0)
      try {
        expect(await child.exited).to.deep.equal({ code: 3, signal: null })
        await tick()
        expect(child.process.stderr!.readableEnded, 'precondition: the grandchild holds the pipe open').to.equal(false)
        expect(pipes(), 'pipes keeping this process alive').to.equal(before)
      } finally {
        process.kill(pid, 'SIGKILL')
      }
    })
  })

  describe('connectParent() called twice', () => {
    it('throws RPC_INVALID_STATE in the child while the first peer is open; only the first peer answers', async () => {
      const child = spawnChild<any>(fixture('connect-twice'), { args: ['twice'] })
      handles.push(child)
      expect(await child.remote.second()).to.deep.include({ threw: true, name: 'RpcError', code: 'RPC_INVALID_STATE' })
      expect(await child.remote.who()).to.equal('first')
      expect(child.peer.stats.dropped, 'replies from a second peer').to.equal(0)
    })

    it('is allowed again once the first peer is closed', async () => {
      const child = spawnChild<any>(fixture('connect-twice'), { args: ['after-close'] })
      handles.push(child)
      // Closing the first peer released the IPC channel: the child reports by its exit code (42: allowed, 43: threw).
      expect(await child.exited).to.deep.equal({ code: 42, signal: null })
    })
  })

  describe('connectParent() outside a child or worker', () => {
    it('throws RpcError RPC_UNSUPPORTED in the mocha process, which has no IPC channel', () => {
      expect(process.send, 'precondition: mocha runs without an IPC channel').to.equal(undefined)
      let thrown: unknown
      try {
        connectParent()
      } catch (error) {
        thrown = error
      }
      expect(thrown).to.be.instanceOf(RpcError)
      expect((thrown as RpcError).code).to.equal('RPC_UNSUPPORTED')
    })

    it('throws RpcError RPC_UNSUPPORTED in a plain node process', () => {
      const lib = new URL('../lib/index.js', import.meta.url).href
      const script = `
        const { connectParent, RpcError } = await import(${JSON.stringify(lib)})
        try { connectParent(); console.log(JSON.stringify({ threw: false })) }
        catch (error) { console.log(JSON.stringify({ threw: true, rpc: error instanceof RpcError, code: error.code })) }`
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      expect(run.status, run.stderr).to.equal(0)
      expect(JSON.parse(run.stdout)).to.deep.equal({ threw: true, rpc: true, code: 'RPC_UNSUPPORTED' })
    })
  })
})
