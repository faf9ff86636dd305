public enum MeshConformancePlaceholder {}
