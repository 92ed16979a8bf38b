#!/usr/bin/env python3
"""An executable form of docs/ltx2/reference-map.md: every LTX-2 component re-implemented in
plain PyTorch from that page alone (not from the reference), run on the golden inputs and
compared with the reference's golden outputs. It proves the page right and is a compact,
readable statement of each forward pass for the C++ port to follow.

Run in the Debian 13 chroot (torch 2.6):
  scripts/ltx2-reference-env.sh exec "$PWD" -- python3 "$PWD/tests/parity/ltx2/check_reference_map.py"
Prints the max abs error per check; exits 1 if any exceeds 1e-5.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden") + "/"
RESULTS = {}


def report(label, value):
    RESULTS[label] = float(value)
    print(f"{label:45s} max abs {float(value):.2e}")


def check_dit(name):
    """Transformer: preprocessing, every block, output (section Transformer)."""
    W=load_file(d+f'ltx2_tiny_{name}.safetensors'); IO=load_file(d+f'{name}_dit.safetensors')
    with safe_open(d+f'ltx2_tiny_{name}.safetensors','pt') as f: cfg=json.loads(f.metadata()['config'])['transformer']
    P='model.diffusion_model.'
    def lin(x,p,bias=True): return x@W[p+'.weight'].T+(W[p+'.bias'] if bias and p+'.bias' in W else 0)
    def norm(x,eps=1e-6): return x*torch.rsqrt(x.pow(2).mean(-1,keepdim=True)+eps)
    def rmsw(x,w,eps=1e-6): return norm(x,eps)*w
    split=cfg.get('rope_type','split')=='split'; gated=cfg.get('apply_gated_attention',False); caln=cfg.get('cross_attention_adaln',False)
    f64=cfg.get('frequencies_precision')=='float64'
    def tsemb(t):  # t [N]
        i=torch.arange(128,dtype=torch.float32); fr=torch.exp(-math.log(10000)*i/128); a=t[:,None].float()*fr[None]
        return torch.cat([a.cos(),a.sin()],-1)
    def adaln(p,t):
        e=lin(F.silu(lin(tsemb(t),p+'.emb.timestep_embedder.linear_1')),p+'.emb.timestep_embedder.linear_2')
        return lin(F.silu(e),p+'.linear'), e
    def rope_tables(pos,D,maxpos,H,middle=True):
        n=pos.shape[1]; Fn=D//(2*n)
        if f64: grid=torch.tensor((10000.0**torch.linspace(0,1,Fn,dtype=torch.float64)*math.pi/2).numpy()).float()
        else: grid=(10000.0**torch.linspace(0,1,Fn))*math.pi/2
        p=(pos[...,0]+pos[...,1])/2 if middle else pos
        fr=torch.stack([p[:,i]/maxpos[i] for i in range(n)],-1)*2-1   # [B,T,n]
        ang=(grid[None,None,:,None]*fr[:,:,None,:]).flatten(2)        # f-major, axis-minor
        B,T=ang.shape[:2]
        if split:
            pad=D//2-ang.shape[-1]; cos=torch.cat([torch.ones(B,T,pad),ang.cos()],-1); sin=torch.cat([torch.zeros(B,T,pad),ang.sin()],-1)
            return cos.view(B,T,H,-1).transpose(1,2), sin.view(B,T,H,-1).transpose(1,2)
        cos=ang.cos().repeat_interleave(2,-1); sin=ang.sin().repeat_interleave(2,-1); pad=D%(2*n)
        return torch.cat([torch.ones(B,T,pad),cos],-1), torch.cat([torch.zeros(B,T,pad),sin],-1)
    def apply_rope(x,pe,H):
        cos,sin=pe
        if split:
            B,T,D=x.shape; xh=x.view(B,T,H,D//H).transpose(1,2); x1,x2=xh.chunk(2,-1)
            out=torch.cat([x1*cos-x2*sin, x2*cos+x1*sin],-1); return out.transpose(1,2).reshape(B,T,D)
        a=x[...,0::2]; b=x[...,1::2]; rot=torch.stack([-b,a],-1).flatten(-2); return x*cos+rot*sin
    def attn(p,x,ctx=None,pe=None,kpe=None,H=2):
        ctx=x if ctx is None else ctx
        q=lin(x,p+'.to_q'); k=lin(ctx,p+'.to_k'); v=lin(ctx,p+'.to_v')
        q=rmsw(q,W[p+'.q_norm.weight']); k=rmsw(k,W[p+'.k_norm.weight'])
        if pe is not None: q=apply_rope(q,pe,H); k=apply_rope(k,pe if kpe is None else kpe,H)
        B,T,D=q.shape; S=k.shape[1]; dh=D//H
        o=F.scaled_dot_product_attention(q.view(B,T,H,dh).transpose(1,2),k.view(B,S,H,dh).transpose(1,2),v.view(B,S,H,dh).transpose(1,2)).transpose(1,2).reshape(B,T,D)
        if gated: g=2*torch.sigmoid(lin(x,p+'.to_gate_logits')); o=(o.view(B,T,H,dh)*g[...,None]).view(B,T,D)
        return lin(o,p+'.to_out.0')
    def rows(table,temb,idx):
        B,T=temb.shape[:2]; k=table.shape[0]; v=table[None,None]+temb.view(B,T,k,-1); return [v[:,:,i] for i in idx]
    Hv=cfg['num_attention_heads']; Ha=cfg['audio_num_attention_heads']
    Dv=Hv*cfg['attention_head_dim']; Da=Ha*cfg['audio_attention_head_dim']
    st={}
    for s,pre,H,D,maxpos in [('video','',Hv,Dv,cfg['positional_embedding_max_pos']),('audio','audio_',Ha,Da,cfg['audio_positional_embedding_max_pos'])]:
        lat=IO[f'dit.{s}.latent']; ts=IO[f'dit.{s}.timesteps']; B,T=ts.shape
        x=lin(lat,P+pre+'patchify_proj')
        tt,e=adaln(P+pre+'adaln_single',(ts*1000).flatten()); tt=tt.view(B,T,-1); e=e.view(B,T,-1)
        ctx=IO[f'dit.{s}.context']
        if (P+pre+'caption_projection.linear_1.weight') in W: ctx=lin(F.gelu(lin(ctx,P+pre+'caption_projection.linear_1'),approximate='tanh'),P+pre+'caption_projection.linear_2')
        pe=rope_tables(IO[f'dit.{s}.positions'],D,maxpos,H)
        cpe=rope_tables(IO[f'dit.{s}.positions'][:,0:1],cfg['audio_cross_attention_dim'],[max(cfg['positional_embedding_max_pos'][0],cfg['audio_positional_embedding_max_pos'][0])],H)
        css,_=adaln(P+f'av_ca_{s}_scale_shift_adaln_single',(ts*1000).flatten()); css=css.view(B,T,-1)
        other='audio' if s=='video' else 'video'; gname='a2v' if s=='video' else 'v2a'
        cg,_=adaln(P+f'av_ca_{gname}_gate_adaln_single',IO[f'dit.{other}.sigma']*cfg.get('av_ca_timestep_scale_multiplier',1)); cg=cg.view(B,1,-1)
        pt=None
        if caln: pt,_=adaln(P+pre+'prompt_adaln_single',IO[f'dit.{s}.sigma']*1000); pt=pt.view(B,1,-1)
        st[s]=dict(x=x,t=tt,e=e,ctx=ctx,pe=pe,cpe=cpe,css=css,cg=cg,pt=pt,H=H,pre=pre)
        for k2,v2 in [('x',x),('timestep',tt),('embedded_timestep',e),('context',ctx),('pe_cos',pe[0]),('pe_sin',pe[1]),('cross_pe_cos',cpe[0]),('cross_scale_shift_timestep',css),('cross_gate_timestep',cg)]+([('prompt_timestep',pt)] if caln else []):
            report(f'{name} dit.pre.{s}.{k2}', (v2-IO[f'dit.pre.{s}.{k2}']).abs().max())
    def mod(x,sc,sh): return norm(x)*(1+sc)+sh
    nb=cfg['num_layers']
    for i in range(nb):
        b=P+f'transformer_blocks.{i}.'
        for s,ap in [('video','attn'),('audio','audio_attn')]:
            S=st[s]; pre=S['pre']; tab=W[b+pre+'scale_shift_table']
            sh,sc,g=rows(tab,S['t'],[0,1,2]); S['x']=S['x']+attn(b+ap+'1',mod(S['x'],sc,sh),pe=S['pe'],H=S['H'])*g
            xn=norm(S['x'])
            if caln:
                shq,scq,gq=rows(tab,S['t'],[6,7,8]); kv=W[b+pre+'prompt_scale_shift_table'][None,None]+S['pt'].view(S['pt'].shape[0],1,2,-1)
                S['x']=S['x']+attn(b+ap+'2',xn*(1+scq)+shq,S['ctx']*(1+kv[:,:,1])+kv[:,:,0],H=S['H'])*gq
            else: S['x']=S['x']+attn(b+ap+'2',xn,S['ctx'],H=S['H'])
        V,A=st['video'],st['audio']; vx,ax=V['x'],A['x']
        tv=W[b+'scale_shift_table_a2v_ca_video']; ta=W[b+'scale_shift_table_a2v_ca_audio']
        def ca(tab,S,r): sc,sh=rows(tab[:4],S['css'],r); return sc,sh
        scv,shv=ca(tv,V,[0,1]); sca,sha=ca(ta,A,[0,1]); gv=rows(tv[4:],V['cg'],[0])[0]
        nvx=vx+attn(b+'audio_to_video_attn',mod(vx,scv,shv),mod(ax,sca,sha),pe=V['cpe'],kpe=A['cpe'],H=Ha)*gv
        sca,sha=ca(ta,A,[2,3]); scv,shv=ca(tv,V,[2,3]); ga=rows(ta[4:],A['cg'],[0])[0]
        nax=ax+attn(b+'video_to_audio_attn',mod(ax,sca,sha),mod(vx,scv,shv),pe=A['cpe'],kpe=V['cpe'],H=Ha)*ga
        V['x'],A['x']=nvx,nax
        for s,ff in [('video','ff'),('audio','audio_ff')]:
            S=st[s]; sh,sc,g=rows(W[b+S['pre']+'scale_shift_table'],S['t'],[3,4,5])
            h=mod(S['x'],sc,sh); h=lin(F.gelu(lin(h,b+ff+'.net.0.proj'),approximate='tanh'),b+ff+'.net.2'); S['x']=S['x']+h*g
            report(f'{name} dit.block{i}.{s}', (S["x"]-IO[f"dit.block{i}.{s}"]).abs().max())
    for s in ['video','audio']:
        S=st[s]; v=W[P+S['pre']+'scale_shift_table'][None,None]+S['e'][:,:,None]; sh,sc=v[:,:,0],v[:,:,1]
        out=lin(F.layer_norm(S['x'],(S['x'].shape[-1],),eps=1e-6)*(1+sc)+sh,P+S['pre']+'proj_out')
        report(f'{name} dit.out.{s}', (out-IO[f"dit.out.{s}"]).abs().max())


def check_text(name):
    """Feature extractor, connectors (Text path) and the scheduler (Scheduler)."""
    W=load_file(d+f'ltx2_tiny_{name}.safetensors'); IO=load_file(d+f'{name}_dit.safetensors')
    with safe_open(d+f'ltx2_tiny_{name}.safetensors','pt') as f: cfg=json.loads(f.metadata()['config'])['transformer']
    hs=IO['text.hidden_states']; m=IO['text.attention_mask']; B,S,Dg,L=hs.shape
    mb=m.bool()[:,:,None,None]
    if 'text_embedding_projection.aggregate_embed.weight' in W:
        n=m.sum(1).view(B,1,1,1).float()
        mean=(hs*mb).sum((1,2),keepdim=True)/(n*Dg+1e-6)
        mn=hs.masked_fill(~mb,float('inf')).amin((1,2),keepdim=True); mx=hs.masked_fill(~mb,float('-inf')).amax((1,2),keepdim=True)
        x=(8*(hs-mean)/(mx-mn+1e-6)).reshape(B,S,Dg*L)*m[:,:,None]
        fv=fa=x@W['text_embedding_projection.aggregate_embed.weight'].T
    else:
        x=(hs*torch.rsqrt(hs.pow(2).mean(2,keepdim=True)+1e-6)).reshape(B,S,Dg*L)*m[:,:,None]
        def agg(p): w=W[p+'.weight']; return (x*math.sqrt(w.shape[0]/Dg))@w.T+W[p+'.bias']
        fv=agg('text_embedding_projection.video_aggregate_embed'); fa=agg('text_embedding_projection.audio_aggregate_embed')
    report(f'{name} text.features_video', (fv-IO['text.features_video']).abs().max()); report(f'{name} text.features_audio', (fa-IO['text.features_audio']).abs().max())
    split=cfg.get('rope_type','split')=='split'; gated=cfg.get('connector_apply_gated_attention',False)
    def norm(x): return x*torch.rsqrt(x.pow(2).mean(-1,keepdim=True)+1e-6)
    def lin(x,p): return x@W[p+'.weight'].T+W[p+'.bias']
    def connector(P,x,H):
        idx=torch.argsort(m.int(),dim=1,descending=True,stable=True); x=torch.gather(x,1,idx[:,:,None].expand_as(x))
        valid=torch.gather(m,1,idx)[:,:,None].float(); reg=W[P+'learnable_registers'].repeat(S//128,1)[None]
        x=valid*x+(1-valid)*reg
        D=x.shape[-1]; maxpos=cfg.get('connector_positional_embedding_max_pos',[1])[0]; Fn=D//2
        grid=(10000.0**torch.linspace(0,1,Fn))*math.pi/2
        if cfg.get('frequencies_precision')=='float64': grid=torch.tensor((10000.0**torch.linspace(0,1,Fn,dtype=torch.float64)*math.pi/2).numpy()).float()
        ang=grid[None,:]*(torch.arange(S).float()/maxpos*2-1)[:,None]
        dh=D//H
        def rope(t):
            if split:
                cos=torch.cat([torch.ones(S,D//2-Fn),ang.cos()],-1).view(S,H,-1).transpose(0,1); sin=torch.cat([torch.zeros(S,D//2-Fn),ang.sin()],-1).view(S,H,-1).transpose(0,1)
                th=t.view(B,S,H,dh).transpose(1,2); a,b=th.chunk(2,-1); return torch.cat([a*cos-b*sin,b*cos+a*sin],-1).transpose(1,2).reshape(B,S,D)
            cos=ang.cos().repeat_interleave(2,-1); sin=ang.sin().repeat_interleave(2,-1); a=t[...,0::2]; b=t[...,1::2]; return t*cos+torch.stack([-b,a],-1).flatten(-2)*sin
        for i in range(cfg['connector_num_layers']):
            p=P+f'transformer_1d_blocks.{i}.'
            h=norm(x); q=norm(lin(h,p+'attn1.to_q'))*W[p+'attn1.q_norm.weight']; k=norm(lin(h,p+'attn1.to_k'))*W[p+'attn1.k_norm.weight']; v=lin(h,p+'attn1.to_v')
            q,k=rope(q),rope(k)
            o=F.scaled_dot_product_attention(*(t.view(B,S,H,dh).transpose(1,2) for t in (q,k,v))).transpose(1,2).reshape(B,S,D)
            if gated: g=2*torch.sigmoid(lin(h,p+'attn1.to_gate_logits')); o=(o.view(B,S,H,dh)*g[...,None]).view(B,S,D)
            x=x+lin(o,p+'attn1.to_out.0')
            h=norm(x); x=x+lin(F.gelu(lin(h,p+'ff.net.0.proj'),approximate='tanh'),p+'ff.net.2')
        return norm(x)
    Hv=cfg['connector_num_attention_heads']; Ha=cfg.get('audio_connector_num_attention_heads',Hv)
    ev=connector('model.diffusion_model.video_embeddings_connector.',fv,Hv); ea=connector('model.diffusion_model.audio_embeddings_connector.',fa,Ha)
    report(f'{name} text.video_encoding', (ev-IO['text.video_encoding']).abs().max()); report(f'{name} text.audio_encoding', (ea-IO['text.audio_encoding']).abs().max())
    S2=load_file(d+'scheduler.safetensors')
    def sched(steps,tokens,stretch=True):
        s=torch.linspace(1,0,steps+1); mm=(2.05-0.95)/(4096-1024); sh=tokens*mm+0.95-mm*1024
        out=torch.where(s!=0, math.exp(sh)/(math.exp(sh)+(1/s-1)), torch.zeros(())); nz=out!=0
        if stretch: one=1-out[nz]; out[nz]=1-one/(one[-1]/(1-0.1))
        return out
    for k,(st,tk,stre) in {'sched.ltx2.steps40.tokens6144':(40,6144,True),'sched.ltx2.steps4.tokens18':(4,18,True),'sched.ltx2.steps20.nostretch':(20,4096,False),'sched.ltx2.steps40.default':(40,4096,True)}.items():
        report(k, (sched(st,tk,stre)-S2[k]).abs().max())


def check_video_vae_audio_v2_0():
    """Video VAE encoder and decoder, audio VAE decoder, HiFi-GAN vocoder."""
    def load(name):
        W=load_file(d+f'ltx2_tiny_{name}.safetensors')
        with safe_open(d+f'ltx2_tiny_{name}.safetensors','pt') as f: cfg=json.loads(f.metadata()['config'])
        return W,cfg
    W,cfg=load('v2_0'); v=cfg['vae']
    def pixnorm(x,eps=1e-8): return x/torch.sqrt((x**2).mean(1,keepdim=True)+eps)
    def cconv(x,p,causal=True,mode='zeros'):
        if causal: x=torch.cat([x[:,:,:1]]*2+[x],2)
        else: x=torch.cat([x[:,:,:1],x,x[:,:,-1:]],2)
        pm={'zeros':'constant','reflect':'reflect','replicate':'replicate'}[mode]
        x=F.pad(x,(1,1,1,1,0,0),mode=pm) if pm!='constant' else F.pad(x,(1,1,1,1,0,0))
        return F.conv3d(x,W[p+'.conv.weight'],W[p+'.conv.bias'])
    def s2d(x,s): b,c,D,H,Wd=x.shape; p1,p2,p3=s; return x.view(b,c,D//p1,p1,H//p2,p2,Wd//p3,p3).permute(0,1,3,5,7,2,4,6).reshape(b,c*p1*p2*p3,D//p1,H//p2,Wd//p3)
    def d2s(x,s): b,C,D,H,Wd=x.shape; p1,p2,p3=s; c=C//(p1*p2*p3); return x.view(b,c,p1,p2,p3,D,H,Wd).permute(0,1,5,2,6,3,7,4).reshape(b,c,D*p1,H*p2,Wd*p3)
    def tsemb(t):
        i=torch.arange(128,dtype=torch.float32); a=t[:,None]*torch.exp(-math.log(10000)*i/128)[None]; return torch.cat([a.cos(),a.sin()],-1)
    def temb(p,t): return F.linear(F.silu(F.linear(tsemb(t),W[p+'.timestep_embedder.linear_1.weight'],W[p+'.timestep_embedder.linear_1.bias'])),W[p+'.timestep_embedder.linear_2.weight'],W[p+'.timestep_embedder.linear_2.bias'])
    def res(x,p,causal,mode,te=None):
        h=pixnorm(x)
        if te is not None:
            C=x.shape[1]; a=W[p+'.scale_shift_table'][None]+te.view(x.shape[0],4,C); sh1,sc1,sh2,sc2=[a[:,i][...,None,None,None] for i in range(4)]
            h=h*(1+sc1)+sh1
        h=cconv(F.silu(h),p+'.conv1',causal,mode); h=pixnorm(h)
        if te is not None: h=h*(1+sc2)+sh2
        h=cconv(F.silu(h),p+'.conv2',causal,mode); return x+h
    STR={'time':(2,1,1),'space':(1,2,2),'all':(2,2,2)}
    IO=load_file(d+'v2_0_video_vae.safetensors')
    x=IO['vae.encoder.input']; P=v['patch_size']; b,c,Fr,H,Wd=x.shape
    x=x.view(b,c,Fr,H//P,P,Wd//P,P).permute(0,1,6,4,2,3,5).reshape(b,c*P*P,Fr,H//P,Wd//P)  # channel = c*16 + w_off*4 + h_off
    mode=v.get('spatial_padding_mode',v.get('encoder_spatial_padding_mode','zeros'))
    x=cconv(x,'vae.encoder.conv_in',True,mode)
    for i,(name,prm) in enumerate(v['encoder_blocks']):
        p=f'vae.encoder.down_blocks.{i}'
        if name=='res_x':
            for j in range(prm['num_layers']): x=res(x,p+f'.res_blocks.{j}',True,mode)
        else:
            s=STR[name.split('_')[1]]; mult=prm.get('multiplier',2); cin=x.shape[1]
            xx=torch.cat([x[:,:,:1],x],2) if s[0]==2 else x
            sc=s2d(xx,s); g=cin*math.prod(s)//(cin*mult); sc=sc.view(b,-1,g,*sc.shape[2:]).mean(2)
            x=s2d(cconv(xx,p+'.conv',True,mode),s)+sc
    x=cconv(F.silu(pixnorm(x)),'vae.encoder.conv_out',True,mode)[:,:v['latent_channels']]
    x=(x-W['vae.per_channel_statistics.mean-of-means'].view(1,-1,1,1,1))/W['vae.per_channel_statistics.std-of-means'].view(1,-1,1,1,1)
    report('v2_0 vae.encoder.output', (x-IO['vae.encoder.output']).abs().max())
    z=IO['vae.decoder.input']; causal=v['causal_decoder']; mode=v['spatial_padding_mode']
    x=IO['vae.decoder.noise']+(1-0.025)*z
    x=x*W['vae.per_channel_statistics.std-of-means'].view(1,-1,1,1,1)+W['vae.per_channel_statistics.mean-of-means'].view(1,-1,1,1,1)
    x=cconv(x,'vae.decoder.conv_in',causal,mode); t=IO['vae.decoder.timestep']*W['vae.decoder.timestep_scale_multiplier']
    for i,(name,prm) in enumerate(reversed(v['decoder_blocks'])):
        p=f'vae.decoder.up_blocks.{i}'
        if name=='res_x':
            te=temb(p+'.time_embedder',t)
            for j in range(prm['num_layers']): x=res(x,p+f'.res_blocks.{j}',causal,mode,te)
        else:
            s=STR[name.split('_')[1]]; mult=prm.get('multiplier',1)
            if prm.get('residual'):
                xi=d2s(x,s).repeat(1,math.prod(s)//mult,1,1,1)
                if s[0]==2: xi=xi[:,:,1:]
            y=d2s(cconv(x,p+'.conv',causal,mode),s)
            if s[0]==2: y=y[:,:,1:]
            x=y+xi if prm.get('residual') else y
    x=pixnorm(x); C=x.shape[1]
    a=W['vae.decoder.last_scale_shift_table'][None]+temb('vae.decoder.last_time_embedder',t).view(1,2,C); x=x*(1+a[:,1][...,None,None,None])+a[:,0][...,None,None,None]
    x=cconv(F.silu(x),'vae.decoder.conv_out',causal,mode)
    b,C,Fr,H,Wd=x.shape; x=x.view(b,3,P,P,Fr,H,Wd).permute(0,1,4,5,3,6,2).reshape(b,3,Fr,H*P,Wd*P)
    report('v2_0 vae.decoder.output', (x-IO['vae.decoder.output']).abs().max())
    for name in ['v2_0']:
        W,cfg=load(name); IO=load_file(d+f'{name}_audio.safetensors'); dd=cfg['audio_vae']['model']['params']['ddconfig']
        def pn(x): return x/torch.sqrt((x**2).mean(1,keepdim=True)+1e-6)
        def c2(x,p,k=3): return F.conv2d(F.pad(x,((k-1)//2,(k-1)-(k-1)//2,k-1,0)),W[p+'.conv.weight'],W[p+'.conv.bias'])
        def rb(x,p):
            h=c2(F.silu(pn(x)),p+'.conv1'); h=c2(F.silu(pn(h)),p+'.conv2')
            if (p+'.nin_shortcut.conv.weight') in W: x=c2(x,p+'.nin_shortcut',1)
            return x+h
        def at(x,p):
            h=pn(x); q,k,vv=[F.conv2d(h,W[p+f'.{n}.weight'],W[p+f'.{n}.bias']) for n in 'qkv']; B,C,Hh,Ww=q.shape
            w_=torch.softmax(q.view(B,C,-1).transpose(1,2)@k.view(B,C,-1)*C**-0.5,-1); o=(vv.view(B,C,-1)@w_.transpose(1,2)).view(B,C,Hh,Ww)
            return x+F.conv2d(o,W[p+'.proj_out.weight'],W[p+'.proj_out.bias'])
        z=IO['audio.decoder.input']; B,Z,T,M=z.shape
        tok=z.permute(0,2,1,3).reshape(B,T,Z*M)*W['audio_vae.per_channel_statistics.std-of-means']+W['audio_vae.per_channel_statistics.mean-of-means']
        x=tok.view(B,T,Z,M).permute(0,2,1,3)
        x=c2(x,'audio_vae.decoder.conv_in'); x=rb(x,'audio_vae.decoder.mid.block_1'); x=at(x,'audio_vae.decoder.mid.attn_1'); x=rb(x,'audio_vae.decoder.mid.block_2')
        L=len(dd['ch_mult']); resn=dd['resolution']>>(L-1)
        for lev in reversed(range(L)):
            for j in range(dd['num_res_blocks']+1):
                x=rb(x,f'audio_vae.decoder.up.{lev}.block.{j}')
                if resn in dd['attn_resolutions']: x=at(x,f'audio_vae.decoder.up.{lev}.attn.{j}')
            if lev!=0: x=c2(F.interpolate(x,scale_factor=2.0,mode='nearest'),f'audio_vae.decoder.up.{lev}.upsample.conv')[:,:,1:]; resn*=2
        x=c2(F.silu(pn(x)),'audio_vae.decoder.conv_out')
        x=x[:,:2,:4*T-3,:dd['mel_bins']]
        report('v2_0 audio.decoder.output', (x-IO['audio.decoder.output']).abs().max())
        vc=cfg['vocoder']; y=x.transpose(2,3).reshape(B,128,-1)
        y=F.conv1d(y,W['vocoder.conv_pre.weight'],W['vocoder.conv_pre.bias'],padding=3); K=len(vc['resblock_kernel_sizes'])
        for i,(r,k) in enumerate(zip(vc['upsample_rates'],vc['upsample_kernel_sizes'])):
            y=F.conv_transpose1d(F.leaky_relu(y,0.1),W[f'vocoder.ups.{i}.weight'],W[f'vocoder.ups.{i}.bias'],stride=r,padding=(k-r)//2)
            outs=[]
            for j in range(K):
                z2=y; p=f'vocoder.resblocks.{i*K+j}.'; ks=vc['resblock_kernel_sizes'][j]
                for n,dl in enumerate(vc['resblock_dilation_sizes'][j]):
                    t2=F.conv1d(F.leaky_relu(z2,0.1),W[p+f'convs1.{n}.weight'],W[p+f'convs1.{n}.bias'],dilation=dl,padding='same')
                    t2=F.conv1d(F.leaky_relu(t2,0.1),W[p+f'convs2.{n}.weight'],W[p+f'convs2.{n}.bias'],padding='same'); z2=z2+t2
                outs.append(z2)
            y=torch.stack(outs).mean(0)
        y=torch.tanh(F.conv1d(F.leaky_relu(y,0.01),W['vocoder.conv_post.weight'],W['vocoder.conv_post.bias'],padding=3))
        report('v2_0 audio.vocoder.output', (y-IO['audio.vocoder.output']).abs().max())


def check_vocoder_bwe():
    """BigVGAN AMP vocoder with bandwidth extension (2.3)."""
    W=load_file(d+'ltx2_tiny_v2_3.safetensors')
    with safe_open(d+'ltx2_tiny_v2_3.safetensors','pt') as f: cfg=json.loads(f.metadata()['config'])
    IO=load_file(d+'v2_3_audio.safetensors')
    def up2(x,filt):  # anti-aliasing upsample x2: kaiser filter k12, replicate pad
        C=x.shape[1]; k=filt.shape[-1]; r=2; pad=k//r-1; pl=pad*r+(k-r)//2; pr=pad*r+(k-r+1)//2
        x=F.pad(x,(pad,pad),mode='replicate'); y=r*F.conv_transpose1d(x,filt.expand(C,-1,-1),stride=r,groups=C); return y[...,pl:-pr]
    def down2(x,filt):
        C=x.shape[1]; k=filt.shape[-1]; x=F.pad(x,(k//2-1,k//2),mode='replicate'); return F.conv1d(x,filt.expand(C,-1,-1),stride=2,groups=C)
    def act(x,p):
        x=up2(x,W[p+'.upsample.filter']); a=W[p+'.act.alpha'].exp()[None,:,None]; b=W[p+'.act.beta'].exp()[None,:,None]
        x=x+1.0/(b+1e-9)*torch.sin(x*a)**2; return down2(x,W[p+'.downsample.lowpass.filter'])
    def gen(x,pre,g,final):
        y=F.conv1d(x,W[pre+'conv_pre.weight'],W[pre+'conv_pre.bias'],padding=3); K=len(g['resblock_kernel_sizes'])
        for i,(r,k) in enumerate(zip(g['upsample_rates'],g['upsample_kernel_sizes'])):
            y=F.conv_transpose1d(y,W[pre+f'ups.{i}.weight'],W[pre+f'ups.{i}.bias'],stride=r,padding=(k-r)//2); outs=[]
            for j in range(K):
                z=y; p=pre+f'resblocks.{i*K+j}.'; ks=g['resblock_kernel_sizes'][j]
                for n,dl in enumerate(g['resblock_dilation_sizes'][j]):
                    t=F.conv1d(act(z,p+f'acts1.{n}'),W[p+f'convs1.{n}.weight'],W[p+f'convs1.{n}.bias'],dilation=dl,padding=(ks*dl-dl)//2)
                    t=F.conv1d(act(t,p+f'acts2.{n}'),W[p+f'convs2.{n}.weight'],W[p+f'convs2.{n}.bias'],padding=(ks-1)//2); z=z+t
                outs.append(z)
            y=torch.stack(outs).mean(0)
        y=act(y,pre+'act_post'); y=F.conv1d(y,W[pre+'conv_post.weight'],W.get(pre+'conv_post.bias'),padding=3)
        if final: y=torch.tanh(y) if g.get('use_tanh_at_final',True) else y.clamp(-1,1)
        return y
    mel=IO['audio.decoder.output']; B=mel.shape[0]
    x=gen(mel.transpose(2,3).reshape(B,128,-1),'vocoder.vocoder.',cfg['vocoder']['vocoder'],True)
    bw=cfg['vocoder']['bwe']; hop=bw['hop_length']; n=bw['n_fft']; r=bw['output_sampling_rate']//bw['input_sampling_rate']
    L=x.shape[-1]; x=F.pad(x,(0,(-L)%hop))
    flat=F.pad(x.reshape(-1,1,x.shape[-1]),(n-hop,0)); spec=F.conv1d(flat,W['vocoder.mel_stft.stft_fn.forward_basis'],stride=hop)
    nf=spec.shape[1]//2; mag=torch.sqrt(spec[:,:nf]**2+spec[:,nf:]**2); m=torch.log(torch.clamp(W['vocoder.mel_stft.mel_basis']@mag,min=1e-5))
    m=m.view(B,2,m.shape[1],m.shape[2])
    res=gen(m.reshape(B,-1,m.shape[-1]) if False else m.permute(0,1,2,3).reshape(B,2*m.shape[2],m.shape[3]),'vocoder.bwe_generator.',bw,False)
    roll=0.99; lw=6; wd=math.ceil(lw/roll); k=2*wd*r+1; t=(torch.arange(k)/r-wd)*roll; win=torch.cos(t.clamp(-lw,lw)*math.pi/lw/2)**2
    filt=(torch.sinc(t)*win*roll/r).view(1,1,-1); C=x.shape[1]
    sk=r*F.conv_transpose1d(F.pad(x,(wd,wd),mode='replicate'),filt.expand(C,-1,-1),stride=r,groups=C)[...,2*wd*r:-(k-r)]
    out=torch.clamp(res+sk,-1,1)[...,:L*r]
    report('v2_3 audio.vocoder.output (with BWE)', (out-IO['audio.vocoder.output']).abs().max())


def check_gemma3():
    """Gemma 3 with Hugging Face semantics over the HF-named weights (section Gemma 3)."""
    W=load_file(d+'gemma3_tiny.safetensors'); IO=load_file(d+'gemma3_io.safetensors')
    with safe_open(d+'gemma3_tiny.safetensors','pt') as f: cfg=json.loads(f.metadata()['config'])
    D=cfg['hidden_size']; H=cfg['num_attention_heads']; KV=cfg['num_key_value_heads']; hd=cfg['head_dim']; eps=cfg['rms_norm_eps']
    def rms(x,w): return x*torch.rsqrt(x.pow(2).mean(-1,keepdim=True)+eps)*(1+w)
    def rope(x,pos,base,factor):
        inv=1.0/(base**(torch.arange(0,hd,2).float()/hd)); ang=(pos[:,None].float()/factor)*inv[None]
        cos=torch.cat([ang.cos()]*2,-1); sin=torch.cat([ang.sin()]*2,-1)
        x1,x2=x[...,:hd//2],x[...,hd//2:]; rot=torch.cat([-x2,x1],-1)
        return x*cos+rot*sin
    tok=IO['gemma.tokens']; B,S=tok.shape; pos=torch.arange(S)
    x=W['language_model.model.embed_tokens.weight'][tok]*torch.tensor(D**0.5)
    hs=[x]
    for n,lt in enumerate(cfg['layer_types']):
        p=f'language_model.model.layers.{n}.'
        h=rms(x,W[p+'input_layernorm.weight'])
        q=(h@W[p+'self_attn.q_proj.weight'].T).view(B,S,H,hd); k=(h@W[p+'self_attn.k_proj.weight'].T).view(B,S,KV,hd); v=(h@W[p+'self_attn.v_proj.weight'].T).view(B,S,KV,hd)
        q=rms(q,W[p+'self_attn.q_norm.weight']); k=rms(k,W[p+'self_attn.k_norm.weight'])
        base,factor=(cfg['rope_local_base_freq'],1.0) if lt=='sliding_attention' else (cfg['rope_theta'],cfg['rope_scaling']['factor'])
        q=rope(q.transpose(1,2),pos,base,factor); k=rope(k.transpose(1,2),pos,base,factor); v=v.transpose(1,2)
        k=k.repeat_interleave(H//KV,1); v=v.repeat_interleave(H//KV,1)
        s=(q@k.transpose(-1,-2))*cfg['query_pre_attn_scalar']**-0.5
        i=pos[:,None]; j=pos[None]; allowed=j<=i
        if lt=='sliding_attention': allowed&=(i-j)<cfg['sliding_window']
        s=s.masked_fill(~allowed,float('-inf')); a=(s.softmax(-1)@v).transpose(1,2).reshape(B,S,H*hd)
        x=x+rms(a@W[p+'self_attn.o_proj.weight'].T,W[p+'post_attention_layernorm.weight'])
        h=rms(x,W[p+'pre_feedforward_layernorm.weight'])
        m=(torch.nn.functional.gelu(h@W[p+'mlp.gate_proj.weight'].T,approximate='tanh')*(h@W[p+'mlp.up_proj.weight'].T))@W[p+'mlp.down_proj.weight'].T
        x=x+rms(m,W[p+'post_feedforward_layernorm.weight'])
        hs.append(x)
    hs[-1]=rms(x,W['language_model.model.norm.weight'])
    mine=torch.stack(hs,-1); gold=IO['gemma.hidden_states']
    report('gemma3.hidden_states', (mine-gold).abs().max())


def main():
    for name in ("v2_0", "v2_3"):
        print(f"== {name}")
        check_dit(name)
        check_text(name)
    print("== VAE, audio decoder, vocoders")
    check_video_vae_audio_v2_0()
    check_vocoder_bwe()
    print("== Gemma 3")
    check_gemma3()
    worst = max(RESULTS.values())
    print(f"{len(RESULTS)} checks, worst max abs error {worst:.2e}")
    sys.exit(0 if worst <= 1e-5 else 1)


if __name__ == "__main__":
    main()
