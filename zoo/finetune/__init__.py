"""Fine-tuning zoo backbones on CIFAR-10, COCO (Mask R-CNN) and ADE20K (UperNet)."""
