"""Looking inside trained models: t-SNE of features, Grad-CAM / saliency, most confident errors."""
