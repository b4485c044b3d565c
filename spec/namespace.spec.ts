import { expect } from 'chai'
import sinon from 'sinon'
import { MethodNotFoundError } from '../lib/index.js'
import { pair, rejection } from './helpers.js'

describe('namespace', () => {
  it('serves a handler added with handle() from the very next call', async () => {
    const { left, right } = pair()
    await left.ready
    expect(await rejection(left.call('math.add', [1, 2]))).to.be.instanceOf(MethodNotFoundError)
    right.handle('math.add', (a: number, b: number) => a + b)
    expect(await left.call('math.add', [1, 2])).to.equal(3)
  })

  it('replaces a handler with handle() on the same path', async () => {
    const { left, right } = pair()
    right.handle('version', () => 1)
    expect(await left.call('version')).to.equal(1)
    right.handle('version', () => 2)
    expect(await left.call('version')).to.equal(2)
    expect(right.exposed).to.deep.equal(['version'])
  })

  it('removes a path and its whole subtree with unhandle(), returning how many went', async () => {
    const { left, right } = pair({}, { expose: { a: { b: { c: () => 'c', d: () => 'd' }, e: () => 'e' }, ab: () => 'ab' } })
    expect(await left.call('a.b.c')).to.equal('c')
    expect(right.unhandle('a.b')).to.equal(2)
    expect(await rejection(left.call('a.b.c'))).to.be.instanceOf(MethodNotFoundError)
    expect(await rejection(left.call('a.b.d'))).to.be.instanceOf(MethodNotFoundError)
    expect(await left.call('a.e')).to.equal('e')
    // A sibling whose name merely starts with the same letters is kept.
    expect(right.unhandle('a')).to.equal(1)
    expect(await left.call('ab')).to.equal('ab')
    expect(right.unhandle('a')).to.equal(0)
    expect(right.unhandle('nothing.here')).to.equal(0)
    expect(right.exposed).to.deep.equal(['ab'])
  })

  it('removes a single handler with unhandle() on its exact path', async () => {
    const { left, right } = pair()
    right.handle('x.y', () => 1)
    right.handle('x.z', () => 2)
    expect(right.unhandle('x.y')).to.equal(1)
    expect(await rejection(left.call('x.y'))).to.be.instanceOf(MethodNotFoundError)
    expect(await left.call('x.z')).to.equal(2)
  })

  it('replaces a subtree with expose(path, api), leaving the rest', async () => {
    const { left, right } = pair({}, { expose: { tools: { old: () => 'old', keep: { deep: () => 'deep' } }, other: () => 'other' } })
    expect(await left.call('tools.old')).to.equal('old')
    right.expose('tools', { fresh: () => 'fresh', nested: { x: () => 'x' } })
    expect(await rejection(left.call('tools.old'))).to.be.instanceOf(MethodNotFoundError)
    expect(await rejection(left.call('tools.keep.deep'))).to.be.instanceOf(MethodNotFoundError)
    expect(await left.call('tools.fresh')).to.equal('fresh')
    expect(await left.call('tools.nested.x')).to.equal('x')
    expect(await left.call('other')).to.equal('other')
    expect(right.exposed.sort()).to.deep.equal(['other', 'tools.fresh', 'tools.nested.x'])
  })

  it('adds a subtree with expose(path, api) at a new deep path', async () => {
    const { left, right } = pair()
    right.expose('a.b.c', { d: () => 'd' })
    expect(await left.call('a.b.c.d')).to.equal('d')
  })

  it('exposes a single function at a path with expose(path, fn)', async () => {
    const { left, right } = pair()
    right.expose('solo', (x: number) => x * 3)
    expect(await left.call('solo', [3])).to.equal(9)
  })

  it('replaces the whole root with expose(api)', async () => {
    const { left, right } = pair({}, { expose: { first: () => 1, ns: { inner: () => 2 } } })
    expect(await left.call('first')).to.equal(1)
    right.expose({ second: () => 2 })
    expect(await rejection(left.call('first'))).to.be.instanceOf(MethodNotFoundError)
    expect(await rejection(left.call('ns.inner'))).to.be.instanceOf(MethodNotFoundError)
    expect(await left.call('second')).to.equal(2)
    expect(right.exposed).to.deep.equal(['second'])
  })

  it('reads an exposed object once: later changes to the object are not seen', async () => {
    const api: Record<string, () => string> = { a: () => 'a' }
    const { left, right } = pair({}, { expose: api })
    api.b = () => 'b'
    api.a = () => 'changed'
    expect(await left.call('a')).to.equal('a')
    expect(await rejection(left.call('b'))).to.be.instanceOf(MethodNotFoundError)
    expect(right.exposed).to.deep.equal(['a'])
  })

  it('sends unknown paths and their arguments to the fallback', async () => {
    const fallback = sinon.spy((path: string, args: unknown[]) => ({ path, args }))
    const { left, right } = pair({}, { expose: { known: () => 'known' } })
    right.fallback(fallback)
    expect(await left.call('known')).to.equal('known')
    expect(await left.call('any.unknown.path', [1, 'two', { three: 3 }])).to.deep.equal({ path: 'any.unknown.path', args: [1, 'two', { three: 3 }] })
    expect(await left.remote.other()).to.deep.equal({ path: 'other', args: [] })
    expect(fallback.callCount).to.equal(2)
  })

  it('awaits an async fallback and carries its errors', async () => {
    const { left, right } = pair()
    right.fallback(async (path) => {
      await null
      if (path === 'bad') throw new Error(`no ${path}`)
      return path.toUpperCase()
    })
    expect(await left.call('good')).to.equal('GOOD')
    expect((await rejection(left.call('bad'))).message).to.equal('no bad')
  })

  it('sends notifications to unknown paths to the fallback', async () => {
    const { left, right } = pair()
    const seen: unknown[] = []
    right.fallback((path, args) => void seen.push([path, args]))
    left.notify('log.line', 'hello')
    await left.call('sync')
    expect(seen).to.deep.equal([['log.line', ['hello']], ['sync', []]])
  })

  it('removes the fallback with fallback(undefined)', async () => {
    const { left, right } = pair()
    right.fallback(() => 'fallback')
    expect(await left.call('x')).to.equal('fallback')
    right.fallback(undefined)
    const error = await rejection(left.call('x'))
    expect(error).to.be.instanceOf(MethodNotFoundError)
    expect(error.path).to.equal('x')
  })

  it('lists the exposed paths in peer.exposed', () => {
    const { right } = pair({}, { expose: { a: () => 1, b: { c: () => 2, d: { e: () => 3 } } } })
    expect(right.exposed.sort()).to.deep.equal(['a', 'b.c', 'b.d.e'])
    right.handle('f', () => 4)
    right.unhandle('b.d')
    expect(right.exposed.sort()).to.deep.equal(['a', 'b.c', 'f'])
    right.unhandle('')
    expect(right.exposed).to.deep.equal([])
  })

  it('returns a copy from peer.exposed that cannot change what is served', async () => {
    const { left, right } = pair({}, { expose: { a: () => 1 } })
    const list = right.exposed
    list.length = 0
    list.push('b')
    expect(right.exposed).to.deep.equal(['a'])
    expect(await left.call('a')).to.equal(1)
  })
})
