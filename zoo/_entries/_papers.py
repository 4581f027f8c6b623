"""BibTeX of the papers the entries cite (as the authors publish them)."""

RESNET = """@inproceedings{he2016deep,
  title={Deep Residual Learning for Image Recognition},
  author={He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},
  booktitle={CVPR},
  year={2016}
}"""

SWIN = """@inproceedings{liu2021swin,
  title={Swin Transformer: Hierarchical Vision Transformer using Shifted Windows},
  author={Liu, Ze and Lin, Yutong and Cao, Yue and Hu, Han and Wei, Yixuan and Zhang, Zheng and Lin, Stephen and Guo, Baining},
  booktitle={ICCV},
  year={2021}
}"""

CONVNEXT = """@inproceedings{liu2022convnet,
  title={A ConvNet for the 2020s},
  author={Liu, Zhuang and Mao, Hanzi and Wu, Chao-Yuan and Feichtenhofer, Christoph and Darrell, Trevor and Xie, Saining},
  booktitle={CVPR},
  year={2022}
}"""

DEIT = """@inproceedings{touvron2021training,
  title={Training data-efficient image transformers & distillation through attention},
  author={Touvron, Hugo and Cord, Matthieu and Douze, Matthijs and Massa, Francisco and Sablayrolles, Alexandre and J{\\'e}gou, Herv{\\'e}},
  booktitle={ICML},
  year={2021}
}"""

AUGMIX = """@article{hendrycks2020augmix,
  title={{AugMix}: A Simple Data Processing Method to Improve Robustness and Uncertainty},
  author={Hendrycks, Dan and Mu, Norman and Cubuk, Ekin D. and Zoph, Barret and Gilmer, Justin and Lakshminarayanan, Balaji},
  journal={Proceedings of the International Conference on Learning Representations (ICLR)},
  year={2020}
}"""

MANY_FACES = """@article{hendrycks2020many,
  title={The Many Faces of Robustness: A Rigorous Evaluation of Realistic Distribution Shifts},
  author={Dan Hendrycks and Steven Basart and Norman Mu and Saurav Kadavath and Frank Wang and Evan Dorundo and Rahul Desai and Tyler Zhu and Samyak Parajuli and Mike Guo and Dawn Song and Jacob Steinhardt and Justin Gilmer},
  journal={arXiv},
  year={2020}
}"""

GAME_OF_NOISE = """@inproceedings{rusak2020simple,
  title={A Simple Way to Make Neural Networks Robust Against Diverse Image Corruptions},
  author={Rusak, Evgenia and Schott, Lukas and Zimmermann, Roland S. and Bitterwolf, Julian and Bringmann, Oliver and Bethge, Matthias and Brendel, Wieland},
  booktitle={ECCV},
  year={2020}
}"""

STYLIZED_IMAGENET = """@inproceedings{geirhos2019imagenettrained,
  title={ImageNet-trained {CNNs} are biased towards texture; increasing shape bias improves accuracy and robustness},
  author={Geirhos, Robert and Rubisch, Patricia and Michaelis, Claudio and Bethge, Matthias and Wichmann, Felix A. and Brendel, Wieland},
  booktitle={ICLR},
  year={2019}
}"""

PRIME = """@inproceedings{PRIME2022,
  title={PRIME: A Few Primitives Can Boost Robustness to Common Corruptions},
  author={Apostolos Modas and Rahul Rade and Guillermo {Ortiz-Jim\\'enez} and Seyed-Mohsen {Moosavi-Dezfooli} and Pascal Frossard},
  year={2022},
  booktitle={European Conference on Computer Vision (ECCV)}
}"""

ADV_TRANSFER = """@InProceedings{salman2020adversarially,
  title={Do Adversarially Robust ImageNet Models Transfer Better?},
  author={Hadi Salman and Andrew Ilyas and Logan Engstrom and Ashish Kapoor and Aleksander Madry},
  year={2020},
  booktitle={ArXiv preprint arXiv:2007.08489}
}"""
