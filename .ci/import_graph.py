#!/usr/bin/env python3
"""The crate's import graph, from the `use crate::...` and `super::...` paths
of every file under src/ (test modules left out): prints the file-level
import circles and the edges between top-level modules, to check against
the layer table in docs/architecture.md.

Usage: python3 .ci/import_graph.py [REPO_DIR]   (default: the current one)
Not run by CI: a reading aid for reviews, not a gate.
"""
import re,glob,os,sys,collections
root=sys.argv[1] if len(sys.argv) > 1 else "."
os.chdir(root)
mods={}
for p in glob.glob('src/**/*.rs',recursive=True):
    if p in ('src/main.rs',): continue
    rel=p[4:-3]
    parts=rel.split('/')
    if parts[-1] in ('mod','lib'): parts=parts[:-1]
    mods[tuple(parts)]=p
def resolve(path):
    # longest prefix that is a module file
    for i in range(len(path),0,-1):
        if tuple(path[:i]) in mods: return tuple(path[:i])
    return None
edges=collections.defaultdict(set)
for m,p in mods.items():
    src=open(p).read()
    # strip test modules roughly: cut from '#[cfg(test)]\nmod tests' to end
    i=src.find('#[cfg(test)]\nmod tests')
    if i>=0: src=src[:i]
    src=re.sub(r'//.*','',src)
    base=list(m) if not p.endswith(('mod.rs','lib.rs')) else list(m)
    # crate:: refs (including use crate::a::{b, c})
    for mm in re.finditer(r'crate::([a-z_][a-z0-9_:]*)(::\{([^}]*)\})?',src):
        path=[x for x in mm.group(1).split('::') if x]
        targets=[path]
        if mm.group(3):
            targets=[path+[x.strip().split('::')[0].split(' ')[0]] for x in mm.group(3).split(',') if x.strip() and x.strip()[0].islower()] or [path]
        for t in targets:
            r=resolve(t)
            if r and r!=m: edges[m].add(r)
    # super:: refs
    parent=list(m[:-1]) if not p.endswith('mod.rs') else list(m[:-1])
    if not p.endswith('mod.rs'): parent=list(m[:-1])
    for mm in re.finditer(r'\bsuper::([a-z_][a-z0-9_:]*)',src):
        path=parent+[x for x in mm.group(1).split('::') if x]
        r=resolve(path)
        if r and r!=m and not (len(r)<len(m) and m[:len(r)]==r): edges[m].add(r)
# SCCs (Tarjan)
index={};low={};st=[];on=set();sccs=[];c=[0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges.get(v,()):
        if w not in index: strong(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v: break
        if len(comp)>1: sccs.append(comp)
for v in list(mods):
    if v not in index: strong(v)
print('file-level import circles:',len(sccs))
for comp in sorted(sccs,key=len,reverse=True):
    print(' ',len(comp),sorted('/'.join(x) for x in comp))
# top-level module graph
top=collections.defaultdict(set)
for a,bs in edges.items():
    for b in bs:
        if a[0]!=b[0]: top[a[0]].add(b[0])
print('top-level edges:')
for a in sorted(top): print(' ',a,'->',' '.join(sorted(top[a])))
