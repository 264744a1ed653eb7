# PyTorch peer for the learning check: resnet18-cifar at base width 8 on the first
# 12,000 Fashion-MNIST images, 2 epochs, SGD lr 0.05 / momentum 0.9 / wd 5e-4,
# batch 64, the same augmentation as trainbench (pad 28->32, random crop with
# padding 4, flip).  Run: /usr/bin/python3 bench/pytorch/fashion_mnist_w8.py
import gzip, numpy as np, torch, torch.nn as nn, torch.nn.functional as F, time, sys
torch.manual_seed(3); np.random.seed(3); torch.set_num_threads(2)
def load(p, off): return np.frombuffer(gzip.open(p).read(), np.uint8, offset=off)
d='/usr/share/datasets/fashion-mnist/'
xtr=load(d+'train-images-idx3-ubyte.gz',16).reshape(-1,1,28,28)[:12000]; ytr=load(d+'train-labels-idx1-ubyte.gz',8)[:12000]
xte=load(d+'t10k-images-idx3-ubyte.gz',16).reshape(-1,1,28,28); yte=load(d+'t10k-labels-idx1-ubyte.gz',8)
def prep(x): x=torch.tensor(x).float()/255; x=F.pad(x,(2,2,2,2)); return (x-0.2860)/0.3530
Xtr, Xte = prep(xtr), prep(xte); Ytr, Yte = torch.tensor(ytr).long(), torch.tensor(yte).long()
aug = "--no-augment" not in sys.argv
w=8
class Basic(nn.Module):
    def __init__(s, i, o, st):
        super().__init__(); s.conv1=nn.Conv2d(i,o,3,st,1,bias=False); s.bn1=nn.BatchNorm2d(o); s.conv2=nn.Conv2d(o,o,3,1,1,bias=False); s.bn2=nn.BatchNorm2d(o)
        s.downsample = nn.Sequential(nn.Conv2d(i,o,1,st,bias=False), nn.BatchNorm2d(o)) if st!=1 or i!=o else None
    def forward(s,x):
        y=F.relu(s.bn1(s.conv1(x))); y=s.bn2(s.conv2(y)); return F.relu(y + (s.downsample(x) if s.downsample is not None else x))
class Net(nn.Module):
    def __init__(s):
        super().__init__(); s.conv1=nn.Conv2d(1,w,3,1,1,bias=False); s.bn1=nn.BatchNorm2d(w); c=w; L=[]
        for i,pl in enumerate([w,2*w,4*w,8*w]):
            for j in range(2): L.append(Basic(c,pl,2 if (i>0 and j==0) else 1)); c=pl
        s.layers=nn.Sequential(*L); s.fc=nn.Linear(c,10)
    def forward(s,x): return s.fc(F.adaptive_avg_pool2d(s.layers(F.relu(s.bn1(s.conv1(x)))),1).flatten(1))
net=Net(); opt=torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
for ep in range(2):
    net.train(); perm=torch.randperm(12000); t=time.time(); correct=0
    for i in range(0,12000,64):
        idx=perm[i:i+64]; x=Xtr[idx]; y=Ytr[idx]
        if aug:
            x=F.pad(x,(4,4,4,4),value=-0.2860/0.3530); out=torch.empty(len(idx),1,32,32)
            for k in range(len(idx)):
                a,b=np.random.randint(0,9,2); im=x[k,:,a:a+32,b:b+32]
                out[k]= im.flip(-1) if np.random.rand()<0.5 else im
            x=out
        o=net(x); loss=F.cross_entropy(o,y); opt.zero_grad(); loss.backward(); opt.step(); correct+=(o.argmax(1)==y).sum().item()
    net.eval()
    with torch.no_grad(): acc=sum((net(Xte[i:i+500]).argmax(1)==Yte[i:i+500]).sum().item() for i in range(0,10000,500))/100
    print(f"epoch {ep+1} train acc {100*correct/12000:.2f} test acc {acc:.2f} time {time.time()-t:.1f}s")
