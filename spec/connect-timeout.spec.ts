import { expect } from 'chai'
import { ChannelClosedError, createMemoryPair, createPeer, spawnChild, spawnWorker } from '../lib/index.js'
import { rejection } from './helpers.js'

const SILENT = new URL('./fixtures/silent.js', import.meta.url)

describe('connectTimeout', () => {
  it('rejects ready and the held calls when the other side never connects', async () => {
    const [a] = createMemoryPair()
    const peer = createPeer(a, { connectTimeout: 50 })
    const held = rejection(peer.call('anything', [], { timeout: 0 }))
    const error = await rejection(peer.ready)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.message).to.contain('did not connect within 50 ms')
    expect(await held).to.be.instanceOf(ChannelClosedError)
    expect(peer.state).to.equal('closed')
  })

  it('ends a worker that never calls connectParent(), instead of waiting forever', async () => {
    const handle = spawnWorker(SILENT, { connectTimeout: 300 })
    const error = await rejection(handle.ready)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(error.message).to.contain('connectTimeout')
    expect(await handle.exited).to.have.property('signal', null)
  })

  it('ends a child process that never calls connectParent(), instead of waiting forever', async () => {
    const handle = spawnChild(SILENT, { connectTimeout: 300 })
    const error = await rejection(handle.ready)
    expect(error).to.be.instanceOf(ChannelClosedError)
    expect(await handle.exited).to.deep.equal({ code: null, signal: 'SIGKILL' })
  })

  it('is cleared once connected: nothing fires later', async () => {
    const [a, b] = createMemoryPair()
    const left = createPeer(a, { connectTimeout: 30 })
    const right = createPeer(b, { expose: { ping: () => 'pong' } })
    await left.ready
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(left.state).to.equal('open')
    expect(await left.remote.ping()).to.equal('pong')
    left.close()
    right.close()
  })
})
