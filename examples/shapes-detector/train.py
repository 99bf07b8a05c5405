#!/usr/bin/python3
"""Train the shapes detector sample (a small YOLO-style detector) and export it to ONNX.

Run with Debian's interpreter (python3-torch, python3-pil, python3-numpy):

    /usr/bin/python3 examples/shapes-detector/train.py

Data: three classes of flat shapes (disc, square, triangle) in random colours, sizes and places,
pasted onto real photographs (scikit-image's test photographs, $BMFLEET_PHOTO_DIR or
/var/cache/bmfleet-testdata/photos). Scenes are 192x144 source images; the network sees them
letterboxed to 128x128 exactly as preprocess.json tells bmfleet to (resize 128x96, grey 114
bands top and bottom), so training and serving share one geometry.

Network: Conv-BN-ReLU blocks (stride 2: 128 -> 64 -> 32 -> 16 -> 8, then one at 8x8), two YOLOv5-style raw heads
[1, 2*(5+3), H, W] at strides 8 (16x16) and 16 (8x8), two anchors each. The decoding is
ultralytics/yolov5 models/yolo.py Detect: xy = (2*sigmoid - 0.5 + grid) * stride,
wh = (2*sigmoid)^2 * anchor; score = sigmoid(obj) * sigmoid(best class). Target assignment:
each box goes to the anchor (over both heads) whose shape matches it best, at the cell holding
its centre. Loss: 1 - IoU on the decoded box, BCE on objectness everywhere and on the classes
of assigned cells.

Writes, next to this script: model.onnx, decoder.json, preprocess.json, labels.txt,
metrics.json, and the data: calibration/*.jpg (unlabelled), eval/*.jpg with eval/*.txt (YOLO
labels: class cx cy w h, normalised to the image) and eval/boxes.json (the same boxes, COCO JSON).
"""

import json
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
PHOTO_DIR = os.environ.get("BMFLEET_PHOTO_DIR", "/var/cache/bmfleet-testdata/photos")
SEED = 20261202
# One thread: on a shared machine a second OpenMP thread spin-waits and costs ~10x the CPU time.
THREADS = int(os.environ.get("THREADS", "1"))
STEPS = int(os.environ.get("STEPS", "1200"))
TRAIN_IMAGES = int(os.environ.get("TRAIN_IMAGES", "1000"))
# Channels of the five Conv blocks; narrow enough that training takes minutes on 2 shared cores.
WIDTHS = [int(w) for w in os.environ.get("WIDTHS", "8,16,32,48,48").split(",")]
BATCH = int(os.environ.get("BATCH", "32"))
LR = float(os.environ.get("LR", "1e-2"))
SRC_W, SRC_H = 192, 144
NET = 128
# Letterbox of a 192x144 image into 128x128: scale 2/3 -> 128x96, 16 rows of padding above and below.
RATIO = NET / SRC_W
PAD_Y = (NET - round(SRC_H * RATIO)) // 2
PAD_VALUE = 114
LABELS = ["disc", "square", "triangle"]
NC = len(LABELS)
NO = 5 + NC
STRIDES = [8, 16]
ANCHORS = [[12, 12, 22, 22], [34, 34, 56, 56]]
NA = 2
CALIBRATION_IMAGES = 40
EVAL_IMAGES = 60


def photos():
    names = sorted(n for n in os.listdir(PHOTO_DIR) if n.lower().endswith((".png", ".jpg", ".jpeg")))
    out = []
    for n in names:
        try:
            im = Image.open(os.path.join(PHOTO_DIR, n)).convert("RGB")
        except OSError:  # an unreadable file is skipped, the rest still make scenes
            continue
        if im.width >= 64 and im.height >= 48:
            out.append(im)
    if not out:
        sys.exit(f"error: no photographs in {PHOTO_DIR}")
    return out


def scene(rng, backgrounds):
    """One 192x144 source image and its boxes [(class, x1, y1, x2, y2)] in source pixels."""
    bg = backgrounds[rng.randrange(len(backgrounds))]
    scale = rng.uniform(0.3, 1.0)
    cw = max(48, int(bg.width * scale))
    ch = max(36, int(cw * SRC_H / SRC_W))
    ch = min(ch, bg.height)
    cw = min(cw, bg.width)
    x0 = rng.randrange(bg.width - cw + 1)
    y0 = rng.randrange(bg.height - ch + 1)
    img = bg.crop((x0, y0, x0 + cw, y0 + ch)).resize((SRC_W, SRC_H), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    boxes = []
    for _ in range(rng.randint(1, 4)):
        for _try in range(20):
            s = rng.uniform(14, 64)
            w = s * rng.uniform(0.8, 1.25)
            h = s * rng.uniform(0.8, 1.25)
            x1 = rng.uniform(0, SRC_W - w)
            y1 = rng.uniform(0, SRC_H - h)
            b = (x1, y1, x1 + w, y1 + h)
            if all(iou(b, o[1:]) < 0.1 for o in boxes):
                break
        else:
            continue
        cls = rng.randrange(NC)
        colour = tuple(rng.randrange(256) for _ in range(3))
        outline = tuple(255 - c for c in colour)
        if cls == 0:
            draw.ellipse(b, fill=colour, outline=outline)
        elif cls == 1:
            draw.rectangle(b, fill=colour, outline=outline)
        else:
            draw.polygon([(b[0], b[3]), ((b[0] + b[2]) / 2, b[1]), (b[2], b[3])], fill=colour, outline=outline)
        boxes.append((cls, *b))
    return img, boxes


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    i = w * h
    return i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i)


def letterbox(img):
    """The preprocessing bmfleet applies (preprocess.json), with PIL's bilinear resize."""
    small = img.resize((NET, round(SRC_H * RATIO)), Image.BILINEAR)
    out = Image.new("RGB", (NET, NET), (PAD_VALUE,) * 3)
    out.paste(small, (0, PAD_Y))
    return np.asarray(out, dtype=np.uint8)


def to_net(boxes):
    return [(c, x1 * RATIO, y1 * RATIO + PAD_Y, x2 * RATIO, y2 * RATIO + PAD_Y) for c, x1, y1, x2, y2 in boxes]


def block(cin, cout, stride):
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        w = WIDTHS
        self.stem = nn.Sequential(*block(3, w[0], 2), *block(w[0], w[1], 2), *block(w[1], w[2], 2))
        self.deep = nn.Sequential(*block(w[2], w[3], 2), *block(w[3], w[4], 1))
        self.head8 = nn.Conv2d(w[2], NA * NO, 1)
        self.head16 = nn.Conv2d(w[4], NA * NO, 1)

    def forward(self, x):
        f8 = self.stem(x)
        f16 = self.deep(f8)
        return self.head8(f8), self.head16(f16)


def decode(raw, stride, anchors):
    """[B, A*NO, H, W] logits -> [B, A, H, W, NO] with xywh decoded in input pixels."""
    b, _, h, w = raw.shape
    p = raw.view(b, NA, NO, h, w).permute(0, 1, 3, 4, 2)
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    anc = torch.tensor(anchors, dtype=torch.float32).view(1, NA, 1, 1, 2)
    s = p[..., :4].sigmoid()
    xy = (s[..., :2] * 2 - 0.5 + torch.stack([gx, gy], -1)) * stride
    wh = (s[..., 2:4] * 2) ** 2 * anc
    return p, xy, wh


def targets_for(batch_boxes):
    """Per head: list of (image, anchor, y, x, class, x1, y1, x2, y2)."""
    out = [[], []]
    for bi, boxes in enumerate(batch_boxes):
        for c, x1, y1, x2, y2 in boxes:
            w, h = x2 - x1, y2 - y1
            best = None
            for hi, anchors in enumerate(ANCHORS):
                for a in range(NA):
                    aw, ah = anchors[2 * a], anchors[2 * a + 1]
                    r = max(w / aw, aw / w, h / ah, ah / h)
                    if best is None or r < best[0]:
                        best = (r, hi, a)
            _, hi, a = best
            s = STRIDES[hi]
            gx = min(int((x1 + x2) / 2 / s), NET // s - 1)
            gy = min(int((y1 + y2) / 2 / s), NET // s - 1)
            out[hi].append((bi, a, gy, gx, c, x1, y1, x2, y2))
    return out


def box_iou_xyxy(a, b):
    w = (torch.min(a[:, 2], b[:, 2]) - torch.max(a[:, 0], b[:, 0])).clamp(min=0)
    h = (torch.min(a[:, 3], b[:, 3]) - torch.max(a[:, 1], b[:, 1])).clamp(min=0)
    i = w * h
    u = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - i
    return i / (u + 1e-7)


def loss_fn(outputs, batch_boxes):
    bce = nn.functional.binary_cross_entropy_with_logits
    total_box = total_obj = total_cls = 0.0
    for hi, (raw, tg) in enumerate(zip(outputs, targets_for(batch_boxes))):
        p, xy, wh = decode(raw, STRIDES[hi], ANCHORS[hi])
        tobj = torch.zeros(p.shape[:4])
        if tg:
            t = torch.tensor(tg, dtype=torch.float32)
            bi, a, gy, gx = (t[:, k].long() for k in range(4))
            pred = torch.cat([xy[bi, a, gy, gx] - wh[bi, a, gy, gx] / 2, xy[bi, a, gy, gx] + wh[bi, a, gy, gx] / 2], 1)
            ious = box_iou_xyxy(pred, t[:, 5:9])
            total_box = total_box + (1 - ious).mean()
            tobj[bi, a, gy, gx] = 1.0
            tcls = nn.functional.one_hot(t[:, 4].long(), NC).float()
            total_cls = total_cls + bce(p[bi, a, gy, gx, 5:], tcls)
        total_obj = total_obj + bce(p[..., 4], tobj, pos_weight=torch.tensor(4.0))
    return 5 * total_box + total_obj + total_cls


def write_image(img, path):
    img.save(path, quality=92, subsampling=0)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    rng = random.Random(SEED)
    backgrounds = photos()
    started = time.time()
    cpu_started = time.process_time()
    xs = np.empty((TRAIN_IMAGES, NET, NET, 3), dtype=np.uint8)
    ys = []
    for i in range(TRAIN_IMAGES):
        img, boxes = scene(rng, backgrounds)
        xs[i] = letterbox(img)
        ys.append(to_net(boxes))
    print(f"generated {TRAIN_IMAGES} training scenes ({time.time() - started:.1f} s)", flush=True)
    model = Detector()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=STEPS, pct_start=0.1)
    model.train()
    for step in range(STEPS):
        idx = [rng.randrange(TRAIN_IMAGES) for _ in range(BATCH)]
        x = torch.from_numpy(xs[idx]).permute(0, 3, 1, 2).float() / 255.0
        boxes = [ys[i] for i in idx]
        if rng.random() < 0.5:  # horizontal flip
            x = x.flip(3)
            boxes = [[(c, NET - x2, y1, NET - x1, y2) for c, x1, y1, x2, y2 in b] for b in boxes]
        loss = loss_fn(model(x), boxes)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == STEPS - 1:
            print(f"step {step}/{STEPS} loss {loss.item():.4f} ({time.time() - started:.1f} s)", flush=True)
    model.eval()
    export(model)
    write_data(random.Random(SEED + 1), backgrounds)
    write_sidecars(time.time() - started, time.process_time() - cpu_started)


def export(model):
    path = os.path.join(HERE, "model.onnx")
    torch.onnx.export(
        model,
        torch.zeros(1, 3, NET, NET),
        path,
        opset_version=13,
        input_names=["images"],
        output_names=["head_s8", "head_s16"],
    )
    print(f"exported {path} ({os.path.getsize(path)} bytes)")


def write_data(rng, backgrounds):
    cal = os.path.join(HERE, "calibration")
    ev = os.path.join(HERE, "eval")
    os.makedirs(cal, exist_ok=True)
    os.makedirs(ev, exist_ok=True)
    for i in range(CALIBRATION_IMAGES):
        img, _ = scene(rng, backgrounds)
        write_image(img, os.path.join(cal, f"{i:04d}.jpg"))
    coco = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for i, n in enumerate(LABELS)]}
    for i in range(EVAL_IMAGES):
        img, boxes = scene(rng, backgrounds)
        name = f"{i:04d}.jpg"
        write_image(img, os.path.join(ev, name))
        lines = []
        coco["images"].append({"id": i, "file_name": name, "width": SRC_W, "height": SRC_H})
        for c, x1, y1, x2, y2 in boxes:
            lines.append(
                f"{c} {(x1 + x2) / 2 / SRC_W:.6f} {(y1 + y2) / 2 / SRC_H:.6f} {(x2 - x1) / SRC_W:.6f} {(y2 - y1) / SRC_H:.6f}"
            )
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": i,
                    "category_id": c,
                    "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
                    "area": round((x2 - x1) * (y2 - y1), 3),
                    "iscrowd": 0,
                }
            )
        with open(os.path.join(ev, name[:-4] + ".txt"), "w") as f:
            f.write("".join(line + "\n" for line in lines))
    with open(os.path.join(ev, "boxes.json"), "w") as f:
        json.dump(coco, f, indent=1)
        f.write("\n")


def write_sidecars(seconds, cpu_seconds):
    with open(os.path.join(HERE, "labels.txt"), "w") as f:
        f.write("".join(n + "\n" for n in LABELS))
    pre = {
        "resize_dims": [NET, NET],
        "keep_aspect_ratio": True,
        "pad_value": PAD_VALUE,
        "pixel_format": "rgb",
        "channel_format": "nchw",
        "mean": [0, 0, 0],
        "scale": [1 / 255] * 3,
        "output": {"dtype": "float32"},
    }
    with open(os.path.join(HERE, "preprocess.json"), "w") as f:
        json.dump(pre, f, indent=2)
        f.write("\n")
    dec = {
        "kind": "yolov5",
        "outputs": ["head_s8", "head_s16"],
        "num_classes": NC,
        "strides": STRIDES,
        "anchors": ANCHORS,
        "score_threshold": 0.25,
        "iou_threshold": 0.45,
        "max_detections": 100,
    }
    with open(os.path.join(HERE, "decoder.json"), "w") as f:
        json.dump(dec, f, indent=2)
        f.write("\n")
    meta = {
        "seed": SEED,
        "steps": STEPS,
        "train_images": TRAIN_IMAGES,
        "batch": BATCH,
        "lr": LR,
        "widths": WIDTHS,
        "threads": THREADS,
        "torch": torch.__version__,
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
