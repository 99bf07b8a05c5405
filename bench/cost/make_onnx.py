#!/usr/bin/python3
"""ONNX models (random weights) of the sophon-demo architectures the cost model is checked on.

    /usr/bin/python3 bench/cost/make_onnx.py OUT_DIR [name ...]
    /usr/bin/python3 bench/cost/make_onnx.py --fingerprint [name ...]

Latency does not depend on weight values, so random weights stand in for the trained ones; the
layer shapes follow the demos' networks at the input sizes of their BModels (docs/cost-model.md).
Needs python3-torch and python3-torchvision only; nothing here is committed as a binary.
"""

import hashlib
import inspect
import json
import os
import sys
import types

import torch
from torch import nn


def resnet50():
    import torchvision

    return torchvision.models.resnet50(weights=None), (1, 3, 224, 224)


def c3d():
    """C3D (Tran et al. 2015) as in sophon-demo sample/C3D: 16 frames of 112x112, 101 classes."""

    def conv(cin, cout):
        return [nn.Conv3d(cin, cout, 3, padding=1), nn.ReLU()]

    layers = [
        *conv(3, 64), nn.MaxPool3d((1, 2, 2), (1, 2, 2)),
        *conv(64, 128), nn.MaxPool3d(2, 2),
        *conv(128, 256), *conv(256, 256), nn.MaxPool3d(2, 2),
        *conv(256, 512), *conv(512, 512), nn.MaxPool3d(2, 2),
        *conv(512, 512), *conv(512, 512), nn.MaxPool3d(2, 2, padding=(0, 1, 1)),
        nn.Flatten(), nn.Linear(8192, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, 101),
    ]
    return nn.Sequential(*layers), (1, 3, 16, 112, 112)


class Basic(nn.Module):
    def __init__(self, cin, cout, down):
        super().__init__()
        s = 2 if down else 1
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, s, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, s, bias=False), nn.BatchNorm2d(cout))
            if down or cin != cout else nn.Identity()
        )

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def extractor():
    """DeepSORT's re-identification net (deep_sort_pytorch Net) on 128x64 crops."""
    net = nn.Sequential(
        nn.Conv2d(3, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        Basic(64, 64, False), Basic(64, 64, False), Basic(64, 128, True), Basic(128, 128, False),
        Basic(128, 256, True), Basic(256, 256, False), Basic(256, 512, True), Basic(512, 512, False),
        nn.AvgPool2d((8, 4), 1), nn.Flatten(),
    )
    return net, (1, 3, 128, 64)


class PoseCoco(nn.Module):
    """OpenPose COCO (Cao et al. 2017): VGG-19 first ten convs, then six two-branch stages."""

    def __init__(self):
        super().__init__()

        def c(cin, cout, k):
            return [nn.Conv2d(cin, cout, k, 1, k // 2), nn.ReLU()]

        self.vgg = nn.Sequential(
            *c(3, 64, 3), *c(64, 64, 3), nn.MaxPool2d(2, 2),
            *c(64, 128, 3), *c(128, 128, 3), nn.MaxPool2d(2, 2),
            *c(128, 256, 3), *c(256, 256, 3), *c(256, 256, 3), *c(256, 256, 3), nn.MaxPool2d(2, 2),
            *c(256, 512, 3), *c(512, 512, 3), *c(512, 256, 3), *c(256, 128, 3),
        )

        def branch(cin, out, first):
            if first:
                body = [*c(cin, 128, 3), *c(128, 128, 3), *c(128, 128, 3), *c(128, 512, 1)]
                return nn.Sequential(*body, nn.Conv2d(512, out, 1))
            body = [*c(cin, 128, 7)] + [m for _ in range(4) for m in c(128, 128, 7)] + c(128, 128, 1)
            return nn.Sequential(*body, nn.Conv2d(128, out, 1))

        self.paf = nn.ModuleList([branch(128 if i == 0 else 185, 38, i == 0) for i in range(6)])
        self.heat = nn.ModuleList([branch(128 if i == 0 else 185, 19, i == 0) for i in range(6)])

    def forward(self, x):
        f = self.vgg(x)
        h = f
        for paf, heat in zip(self.paf, self.heat):
            p, q = paf(h), heat(h)
            h = torch.cat([p, q, f], 1)
        return torch.cat([p, q], 1)


def pose_coco():
    return PoseCoco(), (1, 3, 368, 368)


class SmallBasic(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        q = cout // 4
        self.block = nn.Sequential(
            nn.Conv2d(cin, q, 1), nn.ReLU(),
            nn.Conv2d(q, q, (3, 1), padding=(1, 0)), nn.ReLU(),
            nn.Conv2d(q, q, (1, 3), padding=(0, 1)), nn.ReLU(),
            nn.Conv2d(q, cout, 1),
        )

    def forward(self, x):
        return self.block(x)


class ChannelStridePool(nn.Module):
    """The demo's `maxpool_3d` (sample/LPRNet/tools/LPRNet.py), standing in for LPRNet_Pytorch's
    MaxPool3d((1, 3, 3), (c, 1, s)): a 3x3 max pool with stride (1, s), then a 1x1 max pool of
    stride c over the channels, reached by transposing them into the last axis and back."""

    def __init__(self, stride_w, stride_c):
        super().__init__()
        self.pool = nn.MaxPool2d((3, 3), (1, stride_w))
        self.channels = nn.MaxPool2d((1, 1), (1, stride_c))

    def forward(self, x):
        return self.channels(self.pool(x).transpose(1, 3)).transpose(1, 3)


class LPRNet(nn.Module):
    """LPRNet as sophon-demo sample/LPRNet/tools/LPRNet.py defines it (from sirius-ai/LPRNet_Pytorch)
    and tools/export_onnx.py exports it: 24x94 plates, 68 classes."""

    def __init__(self, classes=68):
        super().__init__()
        self.backbone = nn.ModuleList([
            nn.Conv2d(3, 64, 3, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(3, 1),
            SmallBasic(64, 128), nn.BatchNorm2d(128), nn.ReLU(),
            ChannelStridePool(2, 2),
            SmallBasic(64, 256), nn.BatchNorm2d(256), nn.ReLU(),
            SmallBasic(256, 256), nn.BatchNorm2d(256), nn.ReLU(),
            ChannelStridePool(2, 4), nn.Dropout(0.5),
            nn.Conv2d(64, 256, (1, 4), 1), nn.BatchNorm2d(256), nn.ReLU(), nn.Dropout(0.5),
            nn.Conv2d(256, classes, (13, 1), 1), nn.BatchNorm2d(classes), nn.ReLU(),
        ])
        self.container = nn.Conv2d(448 + classes, classes, 1, 1)

    def forward(self, x):
        keep = []
        for i, layer in enumerate(self.backbone):
            x = layer(x)
            if i in (2, 6, 13, 22):
                keep.append(x)
        ctx = []
        for i, f in enumerate(keep):
            if i in (0, 1):
                f = nn.functional.avg_pool2d(f, 5, 5)
            if i == 2:
                f = nn.functional.avg_pool2d(f, (4, 10), (4, 2))
            ctx.append(f / torch.mean(torch.pow(f, 2), dim=[0, 1, 2, 3]))
        return torch.mean(self.container(torch.cat(ctx, 1)), dim=2)


def lprnet():
    return LPRNet(), (1, 3, 24, 94)


def cbs(cin, cout, k=1, s=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


class Csp(nn.Module):
    def __init__(self, cin, cout, n, shortcut=True):
        super().__init__()
        h = cout // 2
        self.a, self.b, self.out = cbs(cin, h), cbs(cin, h), cbs(2 * h, cout)
        self.m = nn.ModuleList([nn.Sequential(cbs(h, h), cbs(h, h, 3)) for _ in range(n)])
        self.shortcut = shortcut

    def forward(self, x):
        y = self.a(x)
        for m in self.m:
            y = y + m(y) if self.shortcut else m(y)
        return self.out(torch.cat([y, self.b(x)], 1))


class YoloxS(nn.Module):
    """YOLOX-s (Megvii-BaseDetection/YOLOX, depth 0.33, width 0.5): Focus stem, CSPDarknet,
    SPP, PAFPN and the decoupled head, 80 classes, at 640x640."""

    def __init__(self, classes=80):
        super().__init__()
        self.stem = cbs(12, 32, 3)
        self.d2 = nn.Sequential(cbs(32, 64, 3, 2), Csp(64, 64, 1))
        self.d3 = nn.Sequential(cbs(64, 128, 3, 2), Csp(128, 128, 3))
        self.d4 = nn.Sequential(cbs(128, 256, 3, 2), Csp(256, 256, 3))
        self.d5a = cbs(256, 512, 3, 2)
        self.spp1, self.spp2 = cbs(512, 256), cbs(1024, 512)
        self.d5b = Csp(512, 512, 1, False)
        self.lat0, self.c3p4 = cbs(512, 256), Csp(512, 256, 1, False)
        self.red1, self.c3p3 = cbs(256, 128), Csp(256, 128, 1, False)
        self.bu2, self.c3n3 = cbs(128, 128, 3, 2), Csp(256, 256, 1, False)
        self.bu1, self.c3n4 = cbs(256, 256, 3, 2), Csp(512, 512, 1, False)
        # The decoupled head under YOLOX's own module names (yolo_head.py), which the demo's
        # quantize table refers to (head.stems.N).
        self.stems = nn.ModuleList(cbs(cin, 128) for cin in (128, 256, 512))
        self.cls_convs = nn.ModuleList(nn.Sequential(cbs(128, 128, 3), cbs(128, 128, 3)) for _ in range(3))
        self.reg_convs = nn.ModuleList(nn.Sequential(cbs(128, 128, 3), cbs(128, 128, 3)) for _ in range(3))
        self.cls_preds = nn.ModuleList(nn.Conv2d(128, classes, 1) for _ in range(3))
        self.reg_preds = nn.ModuleList(nn.Conv2d(128, 4, 1) for _ in range(3))
        self.obj_preds = nn.ModuleList(nn.Conv2d(128, 1, 1) for _ in range(3))

    def forward(self, x):
        x = torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)
        x3 = self.d3(self.d2(self.stem(x)))
        x4 = self.d4(x3)
        y = self.spp1(self.d5a(x4))
        p = [nn.functional.max_pool2d(y, k, 1, k // 2) for k in (5, 9, 13)]
        x5 = self.d5b(self.spp2(torch.cat([y, *p], 1)))
        f5 = self.lat0(x5)
        f4 = self.c3p4(torch.cat([nn.functional.interpolate(f5, scale_factor=2.0), x4], 1))
        f4r = self.red1(f4)
        o3 = self.c3p3(torch.cat([nn.functional.interpolate(f4r, scale_factor=2.0), x3], 1))
        o4 = self.c3n3(torch.cat([self.bu2(o3), f4r], 1))
        o5 = self.c3n4(torch.cat([self.bu1(o4), f5], 1))
        outs = []
        for k, f in enumerate((o3, o4, o5)):
            s = self.stems[k](f)
            r = self.reg_convs[k](s)
            cls = self.cls_preds[k](self.cls_convs[k](s))
            outs.append(torch.cat([self.reg_preds[k](r), torch.sigmoid(self.obj_preds[k](r)),
                                   torch.sigmoid(cls)], 1).flatten(2))
        # YOLOX's head ends with cat(...).permute(0, 2, 1): [n, 8400, 85].
        return torch.cat(outs, 2).permute(0, 2, 1)


def yolox_s():
    return YoloxS(), (1, 3, 640, 640)


def conv_bn(cin, cout, s=1, leaky=0.1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, s, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(leaky))


def conv_dw(cin, cout, s, leaky=0.1):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, s, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.LeakyReLU(leaky),
        nn.Conv2d(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(leaky),
    )


class Ssh(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c3 = nn.Sequential(nn.Conv2d(cin, cout // 2, 3, 1, 1, bias=False), nn.BatchNorm2d(cout // 2))
        self.c5a = conv_bn(cin, cout // 4)
        self.c5b = nn.Sequential(nn.Conv2d(cout // 4, cout // 4, 3, 1, 1, bias=False), nn.BatchNorm2d(cout // 4))
        self.c7a = conv_bn(cout // 4, cout // 4)
        self.c7b = nn.Sequential(nn.Conv2d(cout // 4, cout // 4, 3, 1, 1, bias=False), nn.BatchNorm2d(cout // 4))

    def forward(self, x):
        a = self.c5a(x)
        return torch.relu(torch.cat([self.c3(x), self.c5b(a), self.c7b(self.c7a(a))], 1))


class RetinaFace(nn.Module):
    """RetinaFace with the MobileNet-0.25 backbone (biubug6/Pytorch_Retinaface), 640x640."""

    def __init__(self):
        super().__init__()
        self.s1 = nn.Sequential(conv_bn(3, 8, 2), conv_dw(8, 16, 1), conv_dw(16, 32, 2), conv_dw(32, 32, 1),
                                conv_dw(32, 64, 2), conv_dw(64, 64, 1))
        self.s2 = nn.Sequential(*[conv_dw(64, 128, 2)] + [conv_dw(128, 128, 1) for _ in range(5)])
        self.s3 = nn.Sequential(conv_dw(128, 256, 2), conv_dw(256, 256, 1))
        self.o1, self.o2, self.o3 = (nn.Sequential(nn.Conv2d(c, 64, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.1)) for c in (64, 128, 256))
        self.m1, self.m2 = conv_bn(64, 64), conv_bn(64, 64)
        self.ssh = nn.ModuleList([Ssh(64, 64) for _ in range(3)])
        self.cls = nn.ModuleList([nn.Conv2d(64, 4, 1) for _ in range(3)])
        self.box = nn.ModuleList([nn.Conv2d(64, 8, 1) for _ in range(3)])
        self.ldm = nn.ModuleList([nn.Conv2d(64, 20, 1) for _ in range(3)])

    def forward(self, x):
        c1 = self.s1(x)
        c2 = self.s2(c1)
        c3 = self.s3(c2)
        p3 = self.o3(c3)
        p2 = self.m2(self.o2(c2) + nn.functional.interpolate(p3, size=c2.shape[2:]))
        p1 = self.m1(self.o1(c1) + nn.functional.interpolate(p2, size=c1.shape[2:]))
        feats = [s(p) for s, p in zip(self.ssh, (p1, p2, p3))]

        # As biubug6's ClassHead/BboxHead/LandmarkHead: NHWC view per level, levels concatenated,
        # softmax over the two classes (phase "test", the demo's three outputs [n, 16800, 4|2|10]).
        def head(convs, k):
            return torch.cat([c(f).permute(0, 2, 3, 1).contiguous().view(f.shape[0], -1, k)
                              for c, f in zip(convs, feats)], 1)

        return head(self.box, 4), torch.softmax(head(self.cls, 2), -1), head(self.ldm, 10)


def retinaface():
    return RetinaFace(), (1, 3, 640, 640)


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's realesr-general-x4v3 (xinntao/Real-ESRGAN, basicsr srvgg_arch): 64 features,
    32 body convs with PReLU, pixel shuffle x4 plus the nearest-upsampled input."""

    def __init__(self, feat=64, convs=32, up=4):
        super().__init__()
        body = [nn.Conv2d(3, feat, 3, 1, 1), nn.PReLU(feat)]
        for _ in range(convs):
            body += [nn.Conv2d(feat, feat, 3, 1, 1), nn.PReLU(feat)]
        body += [nn.Conv2d(feat, 3 * up * up, 3, 1, 1), nn.PixelShuffle(up)]
        self.body = nn.Sequential(*body)
        self.up = up

    def forward(self, x):
        return self.body(x) + nn.functional.interpolate(x, scale_factor=self.up, mode="nearest")


def real_esrgan():
    """sophon-demo sample/Real-ESRGAN: tools/pytorch2onnx.py builds SRVGGNetCompact (x4 v3);
    scripts/gen_fp32bmodel_mlir.sh compiles it at 1x3x480x640."""
    return SRVGGNetCompact(), (1, 3, 480, 640)


def bn_conv(cin, cout, k, s, relu=True):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class HrBottleneck(nn.Module):
    def __init__(self, cin, mid):
        super().__init__()
        self.body = nn.Sequential(bn_conv(cin, mid, 1, 1), bn_conv(mid, mid, 3, 1),
                                  bn_conv(mid, mid * 4, 1, 1, relu=False))
        self.skip = bn_conv(cin, mid * 4, 1, 1, relu=False) if cin != mid * 4 else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class HrModule(nn.Module):
    """One HRNet exchange unit: 4 basic blocks per branch, then every branch fused into every
    output (1x1 conv + nearest upsample from lower resolutions, strided 3x3 convs from higher)."""

    def __init__(self, widths, outputs):
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*[Basic(w, w, False) for _ in range(4)])
                                      for w in widths)
        self.fuse = nn.ModuleList()
        for i in range(outputs):
            row = nn.ModuleList()
            for j, w in enumerate(widths):
                if j > i:
                    row.append(nn.Sequential(bn_conv(w, widths[i], 1, 1, relu=False),
                                             nn.Upsample(scale_factor=2 ** (j - i))))
                elif j == i:
                    row.append(nn.Identity())
                else:
                    steps = [bn_conv(w, w, 3, 2) for _ in range(i - j - 1)]
                    row.append(nn.Sequential(*steps, bn_conv(w, widths[i], 3, 2, relu=False)))
            self.fuse.append(row)

    def forward(self, xs):
        xs = [b(x) for b, x in zip(self.branches, xs)]
        return [torch.relu(sum(f(x) for f, x in zip(row, xs))) for row in self.fuse]


class HRNetPose(nn.Module):
    """pose_hrnet_w32 256x192 (leoxiaobin/deep-high-resolution-net.pytorch,
    experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml): stages of 1, 4 and 3 modules."""

    def __init__(self, w=32, joints=17):
        super().__init__()
        self.stem = nn.Sequential(bn_conv(3, 64, 3, 2), bn_conv(64, 64, 3, 2))
        self.layer1 = nn.Sequential(HrBottleneck(64, 64), *[HrBottleneck(256, 64) for _ in range(3)])
        widths = [w, 2 * w, 4 * w, 8 * w]
        self.t1 = nn.ModuleList([bn_conv(256, w, 3, 1), bn_conv(256, 2 * w, 3, 2)])
        self.s2 = nn.ModuleList([HrModule(widths[:2], 2)])
        self.t2 = bn_conv(2 * w, 4 * w, 3, 2)
        self.s3 = nn.ModuleList([HrModule(widths[:3], 3) for _ in range(4)])
        self.t3 = bn_conv(4 * w, 8 * w, 3, 2)
        self.s4 = nn.ModuleList([HrModule(widths, 4) for _ in range(2)] + [HrModule(widths, 1)])
        self.head = nn.Conv2d(w, joints, 1)

    def forward(self, x):
        x = self.layer1(self.stem(x))
        xs = [t(x) for t in self.t1]
        for m in self.s2:
            xs = m(xs)
        xs = xs + [self.t2(xs[-1])]
        for m in self.s3:
            xs = m(xs)
        xs = xs + [self.t3(xs[-1])]
        for m in self.s4:
            xs = m(xs)
        return self.head(xs[0])


def hrnet_w32():
    """sophon-demo sample/HRNet_pose: pose_hrnet_w32_256x192.onnx at 1x3x256x192."""
    return HRNetPose(), (1, 3, 256, 192)


class DlaBlock(nn.Module):
    """DLA's BasicBlock: two 3x3 convs, the residual given by the caller (a Tree's projection)."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x, residual=None):
        return torch.relu(self.body(x) + (x if residual is None else residual))


class DlaTree(nn.Module):
    """DLA's hierarchical aggregation (Yu et al. 2018): a binary tree of blocks whose leaves meet
    in a Root (1x1 conv over the concatenated children, no residual in DLA-34)."""

    def __init__(self, levels, cin, cout, stride=1, level_root=False, root_dim=0):
        super().__init__()
        root_dim = root_dim or 2 * cout
        if level_root:
            root_dim += cin
        if levels == 1:
            self.tree1, self.tree2 = DlaBlock(cin, cout, stride), DlaBlock(cout, cout)
            self.root = nn.Sequential(nn.Conv2d(root_dim, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
        else:
            self.tree1 = DlaTree(levels - 1, cin, cout, stride)
            self.tree2 = DlaTree(levels - 1, cout, cout, root_dim=root_dim + cout)
        self.levels, self.level_root = levels, level_root
        self.downsample = nn.MaxPool2d(stride, stride) if stride > 1 else None
        self.project = (nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
                        if cin != cout else None)

    def forward(self, x, children=None):
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample else x
        if self.level_root:
            children.append(bottom)
        if self.levels == 1:
            x1 = self.tree1(x, self.project(bottom) if self.project else bottom)
            return self.root(torch.cat([self.tree2(x1), x1, *children], 1))
        x1 = self.tree1(x)
        return self.tree2(x1, children + [x1])


class IdaUp(nn.Module):
    """Iterative deep aggregation up-step (CenterNet dlav0.py IDAUp): each input projected to
    `dim` channels (1x1 conv) and upsampled by a depthwise transposed conv (kernel 2f, stride f),
    then merged left to right by 3x3 convs over pairs."""

    def __init__(self, dim, channels, factors):
        super().__init__()
        self.proj = nn.ModuleList(
            nn.Identity() if c == dim else nn.Sequential(nn.Conv2d(c, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU())
            for c in channels)
        self.up = nn.ModuleList(
            nn.Identity() if f == 1 else nn.ConvTranspose2d(dim, dim, 2 * f, f, f // 2, groups=dim, bias=False)
            for f in factors)
        self.node = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * dim, dim, 3, 1, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU())
            for _ in channels[1:])

    def forward(self, layers):
        layers = [u(p(x)) for u, p, x in zip(self.up, self.proj, layers)]
        x, y = layers[0], []
        for node, l in zip(self.node, layers[1:]):
            x = node(torch.cat([x, l], 1))
            y.append(x)
        return x, y


class CenterNetDla34(nn.Module):
    """CenterNet ctdet with the DLA-34 backbone without deformable convs (dlav0_34, the demo's
    sample/CenterNet/tools/dlav0.py from xingyizhou/CenterNet): DLAUp over levels 2-5 to stride
    4, heads hm (80) / wh (2) / reg (2) of head_conv 256, concatenated into one [n, 84, h/4, w/4]
    output as the demo exports it."""

    def __init__(self, classes=80, head_conv=256):
        super().__init__()
        ch = [16, 32, 64, 128, 256, 512]

        def conv_level(cin, cout, stride):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.base = nn.Sequential(nn.Conv2d(3, ch[0], 7, 1, 3, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU())
        self.level0, self.level1 = conv_level(ch[0], ch[0], 1), conv_level(ch[0], ch[1], 2)
        self.level2 = DlaTree(1, ch[1], ch[2], 2)
        self.level3 = DlaTree(2, ch[2], ch[3], 2, level_root=True)
        self.level4 = DlaTree(2, ch[3], ch[4], 2, level_root=True)
        self.level5 = DlaTree(1, ch[4], ch[5], 2, level_root=True)
        # DLAUp(channels [64, 128, 256, 512], scales [1, 2, 4, 8]) unrolled: each step merges the
        # deepest levels into the next shallower one.
        self.ida = nn.ModuleList([
            IdaUp(256, [256, 512], [1, 2]),
            IdaUp(128, [128, 256, 256], [1, 2, 2]),
            IdaUp(64, [64, 128, 128, 128], [1, 2, 2, 2]),
        ])
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Conv2d(64, head_conv, 3, 1, 1), nn.ReLU(), nn.Conv2d(head_conv, k, 1))
            for k in (classes, 2, 2))

    def forward(self, x):
        x = self.level1(self.level0(self.base(x)))
        levels = []
        for level in (self.level2, self.level3, self.level4, self.level5):
            x = level(x)
            levels.append(x)
        for i, ida in enumerate(self.ida):
            x, y = ida(levels[-i - 2:])
            levels[-i - 1:] = y
        return torch.cat([h(x) for h in self.heads], 1)


def centernet_dla34():
    """sophon-demo sample/CenterNet: tools/export_onnx.py, create_model("dlav0_34"), at the
    [n, 3, 512, 512] of scripts/gen_fp32bmodel_mlir.sh."""
    return CenterNetDla34(), (1, 3, 512, 512)


def conv_bn_relu(cin, cout, k, s=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class ResV1eBlock(nn.Module):
    """mmdet BasicBlock with ResNetV1e's avg_down shortcut (AvgPool then 1x1 conv)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(cin, cout, 3, stride),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        if stride == 1 and cin == cout:
            self.skip = nn.Identity()
        else:
            pool = [nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)] if stride > 1 else []
            self.skip = nn.Sequential(*pool, nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return x * self.scale


class Scrfd10gKps(nn.Module):
    """SCRFD-10G with keypoints (deepinsight/insightface detection/scrfd,
    configs/scrfd/scrfd_10g_bnkps.py): ResNetV1e backbone (deep stem, avg_down, 2x2 max pool;
    BasicBlocks 3/4/2/3 of 56/88/88/224 channels), PAFPN (56 channels, levels 1-3, no norm or
    activation), SCRFDHead with per-stride towers of 3 conv-BN-ReLU (80 channels, cls and reg
    shared), 2 anchors, a Scale on the boxes, and tools/scrfd2onnx.py's nine outputs
    (score [n, hw*2, 1] after sigmoid, bbox [n, hw*2, 4], kps [n, hw*2, 10] per stride)."""

    def __init__(self):
        super().__init__()
        base, planes, blocks = 56, [56, 88, 88, 224], [3, 4, 2, 3]
        self.stem = nn.Sequential(conv_bn_relu(3, base // 2, 3, 2), conv_bn_relu(base // 2, base // 2, 3),
                                  conv_bn_relu(base // 2, base, 3), nn.MaxPool2d(2, 2))
        stages, cin = [], base
        for i, (p, n) in enumerate(zip(planes, blocks)):
            stages.append(nn.Sequential(*[ResV1eBlock(cin if b == 0 else p, p, 2 if i > 0 and b == 0 else 1)
                                          for b in range(n)]))
            cin = p
        self.stages = nn.ModuleList(stages)
        out = 56
        self.lateral = nn.ModuleList(nn.Conv2d(c, out, 1) for c in planes[1:])
        self.fpn = nn.ModuleList(nn.Conv2d(out, out, 3, 1, 1) for _ in range(3))
        self.down = nn.ModuleList(nn.Conv2d(out, out, 3, 2, 1) for _ in range(2))
        self.pafpn = nn.ModuleList(nn.Conv2d(out, out, 3, 1, 1) for _ in range(2))
        feat, anchors = 80, 2
        self.towers = nn.ModuleList(
            nn.Sequential(conv_bn_relu(out, feat, 3), conv_bn_relu(feat, feat, 3), conv_bn_relu(feat, feat, 3))
            for _ in range(3))
        self.cls = nn.ModuleList(nn.Conv2d(feat, anchors, 3, 1, 1) for _ in range(3))
        self.reg = nn.ModuleList(nn.Conv2d(feat, 4 * anchors, 3, 1, 1) for _ in range(3))
        self.kps = nn.ModuleList(nn.Conv2d(feat, 10 * anchors, 3, 1, 1) for _ in range(3))
        self.scales = nn.ModuleList(Scale() for _ in range(3))

    def forward(self, x):
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        lat = [l(f) for l, f in zip(self.lateral, feats[1:])]
        for i in (2, 1):
            lat[i - 1] = lat[i - 1] + nn.functional.interpolate(lat[i], size=lat[i - 1].shape[2:])
        inter = [c(l) for c, l in zip(self.fpn, lat)]
        for i in range(2):
            inter[i + 1] = inter[i + 1] + self.down[i](inter[i])
        outs = [inter[0]] + [self.pafpn[i - 1](inter[i]) for i in (1, 2)]
        n = x.shape[0]
        scores, boxes, kps = [], [], []
        for k, f in enumerate(outs):
            t = self.towers[k](f)
            scores.append(self.cls[k](t).permute(0, 2, 3, 1).reshape(n, -1, 1).sigmoid())
            boxes.append(self.scales[k](self.reg[k](t)).permute(0, 2, 3, 1).reshape(n, -1, 4))
            kps.append(self.kps[k](t).permute(0, 2, 3, 1).reshape(n, -1, 10))
        return (*scores, *boxes, *kps)


def scrfd_10g_kps():
    """sophon-demo sample/SCRFD: scrfd_10g_kps_1b.onnx at [n, 3, 640, 640]
    (scripts/gen_fp32bmodel_mlir.sh), nine outputs (python/scrfd_opencv.py)."""
    return Scrfd10gKps(), (1, 3, 640, 640)


def cbs_g(cin, cout, k=1, s=1, g=1, act=True):
    """ultralytics Conv: conv (no bias), BN, SiLU (none with act=False); g for DWConv."""
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.SiLU()) if act else nn.Sequential(*layers)


class Bottleneck11(nn.Module):
    def __init__(self, c, e=0.5, shortcut=True):
        super().__init__()
        self.cv1, self.cv2 = cbs_g(c, int(c * e), 3), cbs_g(int(c * e), c, 3)
        self.shortcut = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.shortcut else y


class C2f(nn.Module):
    """ultralytics C2f: split in two, n bottlenecks (e=1.0) on the second half, every output
    concatenated."""

    def __init__(self, cin, cout, n, shortcut):
        super().__init__()
        self.c = cout // 2
        self.cv1, self.cv2 = cbs_g(cin, 2 * self.c), cbs_g((2 + n) * self.c, cout)
        self.m = nn.ModuleList(Bottleneck11(self.c, 1.0, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class C3k(nn.Module):
    """ultralytics C3 with two 3x3 bottlenecks of full width (C3k, n=2, e=0.5)."""

    def __init__(self, c):
        super().__init__()
        h = c // 2
        self.cv1, self.cv2, self.cv3 = cbs_g(c, h), cbs_g(c, h), cbs_g(2 * h, c)
        self.m = nn.Sequential(Bottleneck11(h, 1.0), Bottleneck11(h, 1.0))

    def forward(self, x):
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], 1))


class C3k2(nn.Module):
    """ultralytics C3k2 (a C2f): split in two, one inner block (n = 1 at depth 0.5), all three
    parts concatenated."""

    def __init__(self, cin, cout, c3k, e=0.5):
        super().__init__()
        self.c = int(cout * e)
        self.cv1, self.cv2 = cbs_g(cin, 2 * self.c), cbs_g(3 * self.c, cout)
        self.m = C3k(self.c) if c3k else Bottleneck11(self.c)

    def forward(self, x):
        a, b = self.cv1(x).chunk(2, 1)
        return self.cv2(torch.cat([a, b, self.m(b)], 1))


class PsaAttention(nn.Module):
    """ultralytics Attention of C2PSA: 1x1 qkv, per-head q^T k softmax over the HxW positions,
    a depthwise 3x3 positional term on v, 1x1 projection."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.key_dim = self.head_dim // 2
        self.scale = self.key_dim ** -0.5
        self.qkv = cbs_g(dim, dim + 2 * self.key_dim * heads, act=False)
        self.proj = cbs_g(dim, dim, act=False)
        self.pe = cbs_g(dim, dim, 3, g=dim, act=False)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).view(b, self.heads, 2 * self.key_dim + self.head_dim, h * w).split(
            [self.key_dim, self.key_dim, self.head_dim], 2)
        attn = ((q.transpose(-2, -1) @ k) * self.scale).softmax(-1)
        y = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
        return self.proj(y)


class C2Psa(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c // 2
        self.cv1, self.cv2 = cbs_g(c, c), cbs_g(c, c)
        self.attn = PsaAttention(self.c, self.c // 64)
        self.ffn = nn.Sequential(cbs_g(self.c, 2 * self.c), cbs_g(2 * self.c, self.c, act=False))

    def forward(self, x):
        a, b = self.cv1(x).split((self.c, self.c), 1)
        b = b + self.attn(b)
        b = b + self.ffn(b)
        return self.cv2(torch.cat([a, b], 1))


class DflDetect(nn.Module):
    """ultralytics Detect at export: per level a box branch (two 3x3 convs, 64 DFL logits) and a
    class branch (two 3x3 convs before 8.3.0; depthwise-separable from 8.3.0, YOLO11), levels
    flattened and concatenated; DFL softmax + 1x1 conv, boxes decoded against the anchor
    points (computed from the feature shapes at export, constants once the input shape is fixed:
    tpu-mlir folds them) and the class sigmoid: output [n, 4 + classes, anchors]."""

    def __init__(self, ch, depthwise_cls, classes=80, size=640, xyxy=False):
        super().__init__()
        self.xyxy = xyxy
        reg = 16
        c2, c3 = max(16, ch[0] // 4, 4 * reg), max(ch[0], min(classes, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(cbs_g(x, c2, 3), cbs_g(c2, c2, 3), nn.Conv2d(c2, 4 * reg, 1))
                                 for x in ch)
        if depthwise_cls:
            self.cv3 = nn.ModuleList(nn.Sequential(cbs_g(x, x, 3, g=x), cbs_g(x, c3), cbs_g(c3, c3, 3, g=c3),
                                                   cbs_g(c3, c3), nn.Conv2d(c3, classes, 1)) for x in ch)
        else:
            self.cv3 = nn.ModuleList(nn.Sequential(cbs_g(x, c3, 3), cbs_g(c3, c3, 3), nn.Conv2d(c3, classes, 1))
                                     for x in ch)
        self.dfl = nn.Conv2d(reg, 1, 1, bias=False)
        self.classes, self.reg = classes, reg
        pts, strides = [], []
        for s in (8, 16, 32):
            n = size // s
            y, x = torch.meshgrid(torch.arange(n) + 0.5, torch.arange(n) + 0.5, indexing="ij")
            pts.append(torch.stack([x, y], 0).reshape(2, -1))
            strides.append(torch.full((1, n * n), float(s)))
        self.register_buffer("anchors", torch.cat(pts, 1))
        self.register_buffer("strides", torch.cat(strides, 1))

    def forward(self, feats):
        n = feats[0].shape[0]
        no = self.classes + 4 * self.reg
        cat = torch.cat([torch.cat([b(f), c(f)], 1).view(n, no, -1)
                         for b, c, f in zip(self.cv2, self.cv3, feats)], 2)
        box, cls = cat.split((4 * self.reg, self.classes), 1)
        a = box.shape[2]
        dist = self.dfl(box.view(n, 4, self.reg, a).transpose(2, 1).softmax(1)).view(n, 4, a)
        lt, rb = dist.chunk(2, 1)
        x1y1, x2y2 = self.anchors - lt, self.anchors + rb
        if self.xyxy:
            # YOLOv10's export decodes corners (decode_bboxes with xywh=False).
            dbox = torch.cat([x1y1, x2y2], 1) * self.strides
        else:
            dbox = torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1], 1) * self.strides
        return torch.cat([dbox, cls.sigmoid()], 1)


def sppf(cv1, cv2, x):
    """ultralytics SPPF: a 1x1 conv, three chained 5x5 max pools, the four concatenated, a 1x1 conv."""
    y = [cv1(x)]
    for _ in range(3):
        y.append(nn.functional.max_pool2d(y[-1], 5, 1, 2))
    return cv2(torch.cat(y, 1))


def pan_neck(p3, p4, p5, top, mid, down_mid, out_mid, down_top, out_top):
    """The PAN neck of YOLOv8, YOLOv10 and YOLO11 (the yaml's head before Detect): P5 upsampled into
    P4 (`top`), that upsampled into P3 (`mid`), then down again by strided convs (`down_mid`,
    `down_top`) into the P4 and P5 outputs; returns the three maps the Detect head reads."""
    up = nn.functional.interpolate
    n4 = top(torch.cat([up(p5, scale_factor=2.0), p4], 1))
    n3 = mid(torch.cat([up(n4, scale_factor=2.0), p3], 1))
    m4 = out_mid(torch.cat([down_mid(n3), n4], 1))
    m5 = out_top(torch.cat([down_top(m4), p5], 1))
    return n3, m4, m5


class Yolo11s(nn.Module):
    """YOLO11s (ultralytics 8.3.12, the demo's export version; cfg/models/11/yolo11.yaml at
    scale s: depth 0.5, width 0.5): C3k2 blocks, SPPF, C2PSA attention, and the Detect head
    whose class branch is depthwise-separable; export output [n, 84, 8400]."""

    def __init__(self):
        super().__init__()
        self.b0, self.b1 = cbs_g(3, 32, 3, 2), cbs_g(32, 64, 3, 2)
        self.b2, self.b3 = C3k2(64, 128, False, 0.25), cbs_g(128, 128, 3, 2)
        self.b4, self.b5 = C3k2(128, 256, False, 0.25), cbs_g(256, 256, 3, 2)
        self.b6, self.b7 = C3k2(256, 256, True), cbs_g(256, 512, 3, 2)
        self.b8 = C3k2(512, 512, True)
        self.sppf1, self.sppf2 = cbs_g(512, 256), cbs_g(1024, 512)
        self.b10 = C2Psa(512)
        self.h13, self.h16 = C3k2(768, 256, False), C3k2(512, 128, False)
        self.h17, self.h19 = cbs_g(128, 128, 3, 2), C3k2(384, 256, False)
        self.h20, self.h22 = cbs_g(256, 256, 3, 2), C3k2(768, 512, True)
        self.detect = DflDetect((128, 256, 512), depthwise_cls=True)

    def forward(self, x):
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = self.b10(sppf(self.sppf1, self.sppf2, self.b8(self.b7(p4))))
        return self.detect(pan_neck(p3, p4, p5, self.h13, self.h16, self.h17, self.h19, self.h20, self.h22))


def yolo11s():
    """sophon-demo sample/YOLOv11_det: yolov11s.onnx (docs/YOLOv11_Export_Guide.md, ultralytics
    8.3.12) at [n, 3, 640, 640] (scripts/gen_fp32bmodel_mlir.sh)."""
    return Yolo11s(), (1, 3, 640, 640)


class Yolov8s(nn.Module):
    """YOLOv8s (ultralytics 8.1.27, the demo's export version; cfg/models/v8/yolov8.yaml at scale
    s: depth 0.33, width 0.5): C2f blocks, SPPF, PAN, and the Detect head of two 3x3 convs per
    branch; export output [n, 84, 8400]."""

    def __init__(self, head=None):
        super().__init__()
        self.b0, self.b1 = cbs_g(3, 32, 3, 2), cbs_g(32, 64, 3, 2)
        self.b2, self.b3 = C2f(64, 64, 1, True), cbs_g(64, 128, 3, 2)
        self.b4, self.b5 = C2f(128, 128, 2, True), cbs_g(128, 256, 3, 2)
        self.b6, self.b7 = C2f(256, 256, 2, True), cbs_g(256, 512, 3, 2)
        self.b8 = C2f(512, 512, 1, True)
        self.sppf1, self.sppf2 = cbs_g(512, 256), cbs_g(1024, 512)
        self.h12, self.h15 = C2f(768, 256, 1, False), C2f(384, 128, 1, False)
        self.h16, self.h18 = cbs_g(128, 128, 3, 2), C2f(384, 256, 1, False)
        self.h19, self.h21 = cbs_g(256, 256, 3, 2), C2f(768, 512, 1, False)
        self.detect = DflDetect((128, 256, 512), depthwise_cls=False) if head is None else head(
            (128, 256, 512))

    def forward(self, x):
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = sppf(self.sppf1, self.sppf2, self.b8(self.b7(p4)))
        return self.detect(pan_neck(p3, p4, p5, self.h12, self.h15, self.h16, self.h18, self.h19, self.h21))


def yolov8s():
    """sophon-demo sample/YOLOv8_det: yolov8s.onnx (docs/YOLOv8_Export_Guide.md, ultralytics
    8.1.27) at [n, 3, 640, 640] (scripts/gen_fp32bmodel_mlir.sh)."""
    return Yolov8s(), (1, 3, 640, 640)


class PoseDetect(DflDetect):
    """ultralytics 8.1.27 Pose head: Detect for one class plus, per level, a keypoint branch (two
    3x3 convs, a 1x1 to 17 x 3 values), keypoints decoded against the anchor points (x, y) with a
    sigmoid on the visibility (kpts_decode's export path): output [n, 4 + 1 + 51, 8400]."""

    def __init__(self, ch, kpts=17):
        super().__init__(ch, depthwise_cls=False, classes=1)
        self.nk = 3 * kpts
        c4 = max(ch[0] // 4, self.nk)
        self.cv4 = nn.ModuleList(nn.Sequential(cbs_g(x, c4, 3), cbs_g(c4, c4, 3), nn.Conv2d(c4, self.nk, 1))
                                 for x in ch)

    def forward(self, feats):
        n = feats[0].shape[0]
        kpt = torch.cat([m(f).view(n, self.nk, -1) for m, f in zip(self.cv4, feats)], -1)
        det = super().forward(feats)
        y = kpt.view(n, self.nk // 3, 3, -1)
        xy = (y[:, :, :2] * 2.0 + (self.anchors - 0.5)) * self.strides
        return torch.cat([det, torch.cat([xy, y[:, :, 2:3].sigmoid()], 2).view(n, self.nk, -1)], 1)


def yolov8s_pose():
    """sophon-demo sample/YOLOv8_pose: yolov8s-pose.onnx (docs/YOLOv8_Export_Guide.md, ultralytics
    8.1.27, opset 17, dynamic) at [n, 3, 640, 640] (scripts/gen_fp32bmodel_mlir.sh): YOLOv8s with
    the Pose head (cfg/models/v8/yolov8-pose.yaml, kpt_shape [17, 3])."""
    return Yolov8s(PoseDetect), (1, 3, 640, 640)


class Proto(nn.Module):
    """ultralytics Proto: 3x3 conv, 2x2 stride-2 ConvTranspose, 3x3 conv, 1x1 conv to 32 masks."""

    def __init__(self, cin, c=256, masks=32):
        super().__init__()
        self.cv1, self.upsample = cbs_g(cin, c, 3), nn.ConvTranspose2d(c, c, 2, 2, 0, bias=True)
        self.cv2, self.cv3 = cbs_g(c, c, 3), cbs_g(c, masks)

    def forward(self, x):
        return self.cv3(self.cv2(self.upsample(self.cv1(x))))


class SegmentDetect(DflDetect):
    """ultralytics 8.x Segment head (before 8.3.0: plain class branch): Detect plus, per level, a
    mask-coefficient branch (two 3x3 convs, a 1x1 to 32) and the Proto on P3: outputs
    [n, 84 + 32, 8400] and the prototypes [n, 32, 160, 160]. The Proto's width is scaled with the
    model (tasks.py parse_model: 256 x width 0.5 = 128 at scale s)."""

    def __init__(self, ch, masks=32, protos=128):
        super().__init__(ch, depthwise_cls=False)
        self.masks = masks
        self.proto = Proto(ch[0], protos, masks)
        c4 = max(ch[0] // 4, masks)
        self.cv4 = nn.ModuleList(nn.Sequential(cbs_g(x, c4, 3), cbs_g(c4, c4, 3), nn.Conv2d(c4, masks, 1))
                                 for x in ch)

    def forward(self, feats):
        p = self.proto(feats[0])
        n = p.shape[0]
        mc = torch.cat([m(f).view(n, self.masks, -1) for m, f in zip(self.cv4, feats)], 2)
        return torch.cat([super().forward(feats), mc], 1), p


def yolov8s_seg():
    """sophon-demo sample/YOLOv8_seg: yolov8s-seg-{1,4}b.onnx (docs/YOLOv8_Export_Guide.md, opset 13;
    the demo dates from 2024-01, ultralytics 8.0/8.1, before 8.3.0's depthwise class branch) at
    [n, 3, 640, 640] (scripts/gen_fp32bmodel_mlir.sh): YOLOv8s with the Segment head."""
    return Yolov8s(SegmentDetect), (1, 3, 640, 640)


class ScDown(nn.Module):
    """YOLOv10 SCDown: a 1x1 conv, then a stride-2 3x3 depthwise conv without activation."""

    def __init__(self, cin, cout):
        super().__init__()
        self.cv1, self.cv2 = cbs_g(cin, cout), cbs_g(cout, cout, 3, 2, g=cout, act=False)

    def forward(self, x):
        return self.cv2(self.cv1(x))


class Cib(nn.Module):
    """YOLOv10 CIB with lk=True as exported (RepVGGDW fused into one 7x7 depthwise conv + SiLU):
    dw 3x3, 1x1 to 2c, dw 7x7, 1x1 back to c, dw 3x3, residual add."""

    def __init__(self, c):
        super().__init__()
        self.cv1 = nn.Sequential(cbs_g(c, c, 3, g=c), cbs_g(c, 2 * c), cbs_g(2 * c, 2 * c, 7, g=2 * c),
                                 cbs_g(2 * c, c), cbs_g(c, c, 3, g=c))

    def forward(self, x):
        return x + self.cv1(x)


class C2fCib(C2f):
    """YOLOv10 C2fCIB (shortcut, lk): a C2f whose bottlenecks are CIBs."""

    def __init__(self, cin, cout, n):
        super().__init__(cin, cout, n, True)
        self.m = nn.ModuleList(Cib(self.c) for _ in range(n))


def v10_postprocess(preds, max_det=300, classes=80):
    """THU-MIG/yolov10 ultralytics/utils/ops.py v10postprocess: the 300 anchors of highest class
    score (ReduceMax, TopK), their boxes and scores gathered, the top 300 (anchor, class) pairs,
    labels and anchor indices by modulo and floor division; output [n, 300, 6]."""
    boxes, scores = preds.split([4, classes], dim=-1)
    _, index = torch.topk(scores.amax(dim=-1), max_det, dim=-1)
    index = index.unsqueeze(-1)
    boxes = torch.gather(boxes, 1, index.repeat(1, 1, boxes.shape[-1]))
    scores = torch.gather(scores, 1, index.repeat(1, 1, scores.shape[-1]))
    scores, index = torch.topk(scores.flatten(1), max_det, dim=-1)
    labels = index % classes
    index = index // classes
    boxes = boxes.gather(1, index.unsqueeze(-1).repeat(1, 1, boxes.shape[-1]))
    return torch.cat([boxes, scores.unsqueeze(-1), labels.unsqueeze(-1).to(boxes.dtype)], -1)


class Yolov10s(nn.Module):
    """YOLOv10-S (THU-MIG/yolov10 ultralytics/cfg/models/v10/yolov10s.yaml: depth 0.33, width 0.5):
    the YOLOv8 layout with SCDown downsampling, C2fCIB blocks, PSA attention after SPPF, and the
    v10Detect one-to-one head (depthwise class branch, corner decoding) ending in v10postprocess,
    as `model.export(format="onnx", opset=13, dynamic=True)` gives it (BN and RepVGGDW fused)."""

    def __init__(self):
        super().__init__()
        self.b0, self.b1 = cbs_g(3, 32, 3, 2), cbs_g(32, 64, 3, 2)
        self.b2, self.b3 = C2f(64, 64, 1, True), cbs_g(64, 128, 3, 2)
        self.b4, self.b5 = C2f(128, 128, 2, True), ScDown(128, 256)
        self.b6, self.b7 = C2f(256, 256, 2, True), ScDown(256, 512)
        self.b8 = C2fCib(512, 512, 1)
        self.sppf1, self.sppf2 = cbs_g(512, 256), cbs_g(1024, 512)
        self.b10 = C2Psa(512)
        self.h13, self.h16 = C2f(768, 256, 1, False), C2f(384, 128, 1, False)
        self.h17, self.h19 = cbs_g(128, 128, 3, 2), C2f(384, 256, 1, False)
        self.h20, self.h22 = ScDown(256, 256), C2fCib(768, 512, 1)
        self.detect = DflDetect((128, 256, 512), depthwise_cls=True, xyxy=True)

    def forward(self, x):
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = self.b10(sppf(self.sppf1, self.sppf2, self.b8(self.b7(p4))))
        y = self.detect(pan_neck(p3, p4, p5, self.h13, self.h16, self.h17, self.h19, self.h20, self.h22))
        return v10_postprocess(y.permute(0, 2, 1))


def yolov10s():
    """sophon-demo sample/YOLOv10: yolov10s.onnx (docs/YOLOv10_Export_Guide.md, THU-MIG/yolov10,
    opset 13) at [n, 3, 640, 640] (scripts/gen_fp32bmodel_mlir.sh)."""
    return Yolov10s(), (1, 3, 640, 640)


class MitAttention(nn.Module):
    """SegFormer efficient self-attention (NVlabs/SegFormer mix_transformer.py Attention): q from
    every token, k and v from the tokens reduced by a stride-`sr` conv and a LayerNorm."""

    def __init__(self, dim, heads, sr):
        super().__init__()
        self.heads, self.scale, self.sr_ratio = heads, (dim // heads) ** -0.5, sr
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        if sr > 1:
            self.sr, self.norm = nn.Conv2d(dim, dim, sr, sr), nn.LayerNorm(dim)

    def forward(self, x, h, w):
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            x = self.norm(self.sr(x.permute(0, 2, 1).reshape(b, c, h, w)).reshape(b, c, -1).permute(0, 2, 1))
        kv = self.kv(x).reshape(b, -1, 2, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q @ kv[0].transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ kv[1]).transpose(1, 2).reshape(b, n, c))


class MitBlock(nn.Module):
    """SegFormer Block: pre-norm attention and Mix-FFN (Linear, depthwise 3x3, GELU, Linear)."""

    def __init__(self, dim, heads, sr):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = MitAttention(dim, heads, sr)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.dwconv = nn.Conv2d(4 * dim, 4 * dim, 3, 1, 1, groups=4 * dim)

    def forward(self, x, h, w):
        x = x + self.attn(self.norm1(x), h, w)
        b, n, _ = x.shape
        y = self.fc1(self.norm2(x))
        y = self.dwconv(y.transpose(1, 2).view(b, -1, h, w)).flatten(2).transpose(1, 2)
        return x + self.fc2(nn.functional.gelu(y))


class SegformerB0(nn.Module):
    """SegFormer-B0 (NVlabs/SegFormer: mit_b0 - dims 32/64/160/256, heads 1/2/5/8, depth 2 per
    stage, reduction 8/4/2/1 - and SegFormerHead with a 256-wide MLP decoder, 19 Cityscapes
    classes), as tools/pytorch2onnx.py exports it: EncoderDecoder.simple_test with the logits
    resized to the input, resized again to the image's original shape (the same size here),
    softmax and argmax: output [n, 1, H, W] class indices."""

    def __init__(self, classes=19, dims=(32, 64, 160, 256), heads=(1, 2, 5, 8), srs=(8, 4, 2, 1)):
        super().__init__()
        cin = 3
        self.embeds, self.blocks, self.norms = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, (d, h, sr) in enumerate(zip(dims, heads, srs)):
            k, st = (7, 4) if i == 0 else (3, 2)
            self.embeds.append(
                nn.ModuleDict({"proj": nn.Conv2d(cin, d, k, st, k // 2), "norm": nn.LayerNorm(d)}))
            self.blocks.append(nn.ModuleList(MitBlock(d, h, sr) for _ in range(2)))
            self.norms.append(nn.LayerNorm(d, eps=1e-6))
            cin = d
        self.linear_c = nn.ModuleList(nn.Linear(d, 256) for d in dims)
        self.linear_fuse = nn.Sequential(
            nn.Conv2d(4 * 256, 256, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU())
        self.linear_pred = nn.Conv2d(256, classes, 1)

    def forward(self, img):
        b, x, feats = img.shape[0], img, []
        for embed, blocks, norm in zip(self.embeds, self.blocks, self.norms):
            x = embed["proj"](x)
            h, w = x.shape[2:]
            x = embed["norm"](x.flatten(2).transpose(1, 2))
            for blk in blocks:
                x = blk(x, h, w)
            x = norm(x).reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
            feats.append(x)
        size = feats[0].shape[2:]
        up = nn.functional.interpolate
        c = []
        for f, lin in reversed(list(zip(feats, self.linear_c))):
            y = lin(f.flatten(2).transpose(1, 2)).permute(0, 2, 1).reshape(b, -1, f.shape[2], f.shape[3])
            c.append(y if f is feats[0] else up(y, size=size, mode="bilinear", align_corners=False))
        x = self.linear_pred(self.linear_fuse(torch.cat(c, 1)))
        x = up(x, size=img.shape[2:], mode="bilinear", align_corners=False)
        x = up(x, size=img.shape[2:], mode="bilinear", align_corners=False)  # rescale to ori_shape
        return x.softmax(dim=1).argmax(dim=1).unsqueeze(0)


def segformer_b0():
    """sophon-demo sample/segformer: segformer.b0.512x1024.city.160k.onnx
    (docs/Segformer_Export_Guide.md, NVlabs/SegFormer tools/pytorch2onnx.py with
    local_configs/segformer/B0/segformer.b0.512x1024.city.160k.py) at [1, 3, 512, 1024]
    (scripts/gen_fp32bmodel_mlir.sh)."""
    return SegformerB0(), (1, 3, 512, 1024)


class ElanV7(nn.Module):
    """YOLOv7's ELAN block: two 1x1 branches from the input, four chained 3x3 convs on the second,
    outputs concatenated (`keep` picks which: the backbone keeps every other one) and fused by a
    1x1 conv."""

    def __init__(self, cin, mid, mid3, cout, keep):
        super().__init__()
        self.a, self.b = cbs(cin, mid), cbs(cin, mid)
        self.convs = nn.ModuleList(cbs(mid if i == 0 else mid3, mid3, 3) for i in range(4))
        self.keep = keep
        self.out = cbs(2 * mid + len(keep) * mid3, cout)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        ys = []
        for conv in self.convs:
            ys.append(conv(ys[-1] if ys else b))
        return self.out(torch.cat([ys[i] for i in self.keep] + [b, a], 1))


class MpV7(nn.Module):
    """YOLOv7's downsampling: max pool + 1x1 beside 1x1 + strided 3x3, concatenated."""

    def __init__(self, cin, c):
        super().__init__()
        self.pool_conv, self.conv, self.down = cbs(cin, c), cbs(cin, c), cbs(c, c, 3, 2)

    def forward(self, x):
        return torch.cat([self.down(self.conv(x)), self.pool_conv(nn.functional.max_pool2d(x, 2, 2))], 1)


class SppcspcV7(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        c = cout
        self.cv1, self.cv2, self.cv3, self.cv4 = cbs(cin, c), cbs(cin, c), cbs(c, c, 3), cbs(c, c)
        self.cv5, self.cv6, self.cv7 = cbs(4 * c, c), cbs(c, c, 3), cbs(2 * c, cout)

    def forward(self, x):
        x1 = self.cv4(self.cv3(self.cv1(x)))
        pools = [nn.functional.max_pool2d(x1, k, 1, k // 2) for k in (5, 9, 13)]
        return self.cv7(torch.cat([self.cv6(self.cv5(torch.cat([x1, *pools], 1))), self.cv2(x)], 1))


class Yolov7(nn.Module):
    """YOLOv7 (WongKinYiu/yolov7 cfg/deploy/yolov7.yaml, 80 classes) as export.py writes it after
    attempt_load's fuse: RepConv folded to one 3x3 conv, and without --grid the three raw
    outputs viewed and permuted to [n, 3, h, w, 85] (the demo's "3output" model)."""

    def __init__(self, classes=80):
        super().__init__()
        self.stem = nn.Sequential(cbs(3, 32, 3), cbs(32, 64, 3, 2), cbs(64, 64, 3), cbs(64, 128, 3, 2))
        every_other, all_four = (3, 1), (3, 2, 1, 0)
        self.e1 = ElanV7(128, 64, 64, 256, every_other)
        self.m1, self.e2 = MpV7(256, 128), ElanV7(256, 128, 128, 512, every_other)
        self.m2, self.e3 = MpV7(512, 256), ElanV7(512, 256, 256, 1024, every_other)
        self.m3, self.e4 = MpV7(1024, 512), ElanV7(1024, 256, 256, 1024, every_other)
        self.spp = SppcspcV7(1024, 512)
        self.r4, self.l4 = cbs(512, 256), cbs(1024, 256)
        self.h63 = ElanV7(512, 256, 128, 256, all_four)
        self.r3, self.l3 = cbs(256, 128), cbs(512, 128)
        self.h75 = ElanV7(256, 128, 64, 128, all_four)
        self.d1, self.h88 = MpV7(128, 128), ElanV7(512, 256, 128, 256, all_four)
        self.d2, self.h101 = MpV7(256, 256), ElanV7(1024, 512, 256, 512, all_four)
        self.rep = nn.ModuleList(cbs(c, 2 * c, 3) for c in (128, 256, 512))
        self.detect = nn.ModuleList(nn.Conv2d(2 * c, 3 * (classes + 5), 1) for c in (128, 256, 512))
        self.no = classes + 5

    def forward(self, x):
        p3 = self.e2(self.m1(self.e1(self.stem(x))))
        p4 = self.e3(self.m2(p3))
        p5 = self.spp(self.e4(self.m3(p4)))
        up = nn.functional.interpolate
        h63 = self.h63(torch.cat([self.l4(p4), up(self.r4(p5), scale_factor=2.0)], 1))
        h75 = self.h75(torch.cat([self.l3(p3), up(self.r3(h63), scale_factor=2.0)], 1))
        h88 = self.h88(torch.cat([self.d1(h75), h63], 1))
        h101 = self.h101(torch.cat([self.d2(h88), p5], 1))
        outs = []
        for rep, det, f in zip(self.rep, self.detect, (h75, h88, h101)):
            y = det(rep(f))
            n, _, h, w = y.shape
            outs.append(y.view(n, 3, self.no, h, w).permute(0, 1, 3, 4, 2).contiguous())
        return tuple(outs)


def yolov7():
    """sophon-demo sample/YOLOv7: yolov7_v0.1_3output_{1,4}b.onnx (docs/YOLOv7_Export_Guide.md,
    export.py without --grid) at [n, 3, 640, 640] (scripts/gen_fp32bmodel_mlir.sh)."""
    return Yolov7(), (1, 3, 640, 640)


MODELS = {
    "resnet50": resnet50,
    "c3d": c3d,
    "extractor": extractor,
    "pose_coco": pose_coco,
    "lprnet": lprnet,
    "yolox_s": yolox_s,
    "retinaface": retinaface,
    "real_esrgan": real_esrgan,
    "hrnet_w32": hrnet_w32,
    "centernet_dla34": centernet_dla34,
    "scrfd_10g_kps": scrfd_10g_kps,
    "yolo11s": yolo11s,
    "yolov8s": yolov8s,
    "yolov7": yolov7,
    "yolov10s": yolov10s,
    "yolov8s_pose": yolov8s_pose,
    "yolov8s_seg": yolov8s_seg,
    "segformer_b0": segformer_b0,
}


def _definitions(obj, seen):
    """The module's functions and classes `obj` uses, itself included, followed through calls,
    nested functions, methods and base classes."""
    if not isinstance(obj, (types.FunctionType, type)) or obj.__module__ != __name__:
        return
    if obj.__qualname__ in seen:
        return
    seen[obj.__qualname__] = obj
    codes = []
    if isinstance(obj, type):
        for base in obj.__bases__:
            _definitions(base, seen)
        for member in vars(obj).values():
            member = getattr(member, "__func__", member)
            if isinstance(member, types.FunctionType):
                codes.append(member.__code__)
    else:
        codes.append(obj.__code__)
    while codes:
        code = codes.pop()
        for name in code.co_names:
            _definitions(globals().get(name), seen)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def fingerprint(name):
    """Changes when the source that builds `name` changes (its builder and every function or class
    of this file it uses) or when torch does, so a cached ONNX file is rebuilt only when stale."""
    seen = {}
    _definitions(MODELS[name], seen)
    digest = hashlib.sha256(torch.__version__.encode())
    for qualname in sorted(seen):
        digest.update(qualname.encode())
        digest.update(inspect.getsource(seen[qualname]).encode())
    return digest.hexdigest()[:16]


def main():
    if sys.argv[1:2] == ["--fingerprint"]:
        names = sys.argv[2:] or list(MODELS)
        print(json.dumps({name: fingerprint(name) for name in names}))
        return
    out = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for name in names:
        path = os.path.join(out, f"{name}.onnx")
        model, shape = MODELS[name]()
        model.eval()
        torch.onnx.export(model, torch.zeros(shape), path + ".part", opset_version=13,
                          input_names=["input"], output_names=["output"])
        os.replace(path + ".part", path)
        print(f"{path} {list(shape)}", flush=True)


if __name__ == "__main__":
    main()
